package safety

import "errors"

var (
	// ErrEmptyText is returned for a corpus line or request without text.
	ErrEmptyText = errors.New("empty text")
	// ErrBadLabel is returned for a corpus line whose label or category is
	// not one of the known ones.
	ErrBadLabel = errors.New("bad label")
	// ErrBadWeights is returned when a weights file is malformed.
	ErrBadWeights = errors.New("bad weights file")
	// ErrBadGuardAnswer is returned when a guard model's answer is neither
	// "safe" nor "unsafe" followed by category codes.
	ErrBadGuardAnswer = errors.New("bad guard answer")
	// ErrBadInput is returned by Classify for an input line that is not a
	// request object.
	ErrBadInput = errors.New("bad input line")
)
