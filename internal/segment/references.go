package segment

import (
	"context"
	"fmt"

	"github.com/cairn-cdp/cairn/ent"
	entsegment "github.com/cairn-cdp/cairn/ent/segment"
)

// CheckReferences validates r and that every inSegment names an existing segment, so a rule
// built for a preview fails as a saved one would instead of silently matching nobody. The
// error is a *RuleError naming the path of the first bad node.
func CheckReferences(ctx context.Context, client *ent.Client, r *Rule) error {
	if err := Validate(r); err != nil {
		return err
	}
	for _, ref := range refPaths(r, "rule") {
		ok, err := client.Segment.Query().Where(entsegment.ID(ref.id)).Exist(ctx)
		if err != nil {
			return fmt.Errorf("error checking segment %s: %w", ref.id, err)
		}
		if !ok {
			return &RuleError{Path: ref.path, Msg: fmt.Sprintf("segment %s does not exist", ref.id)}
		}
	}
	return nil
}
