// Package graph holds what the WhatsApp and Messenger Send API clients share:
// the Graph API base URL and version (Config), one traced HTTP transport
// (Client.Post) that turns every failure into an *Error parsed from Meta's
// error envelope, the one table of error codes and what to do about them
// (Kind, Retryable), the one table of message limits (LimitsFor, TextLen),
// and the rate-limit usage headers (Usage).
//
// Tokens travel only in the Authorization header, never in URLs, so they
// cannot leak into errors, logs or span attributes.
package graph
