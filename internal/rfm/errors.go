package rfm

import "errors"

// ErrInvalidInput wraps a caller's mistake, such as a negative window.
var ErrInvalidInput = errors.New("invalid RFM input")
