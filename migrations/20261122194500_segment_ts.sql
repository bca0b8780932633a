-- cairn_segment_ts reads text as a timestamp for segment rules (trait and property values
-- compared with ISO dates), returning NULL instead of failing for anything else. Accepted: a
-- date (UTC midnight), or date 'T' time with optional seconds, up to six fraction digits and an
-- optional zone (none means UTC). internal/segment's parseISO accepts exactly the same set.
-- Plain SQL and not STRICT, so the planner inlines it; the nested CASE keeps the casts from
-- running on text the pattern rejected.
CREATE FUNCTION cairn_segment_ts(t text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN t ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])?)?$'
    THEN CASE WHEN substr(t, 1, 4)::int >= 1
               AND substr(t, 9, 2)::int <= extract(day FROM make_date(substr(t, 1, 4)::int, substr(t, 6, 2)::int, 1) + interval '1 month' - interval '1 day')
      THEN (CASE WHEN length(t) = 10 THEN t || 'T00:00:00Z'
                 WHEN t ~ '(Z|[+-][0-9]{2}:[0-9]{2})$' THEN t
                 ELSE t || 'Z' END)::timestamptz
    END
  END
$$;
