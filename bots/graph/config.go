package graph

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Defaults of Config.
const (
	// DefaultBaseURL is Meta's Graph API host.
	DefaultBaseURL = "https://graph.facebook.com"
	// DefaultVersion is the Graph API version Corral is tested against.
	// Meta retires each version about two years after release; check the
	// Graph API changelog when bumping it.
	DefaultVersion = "v25.0"
	// DefaultTimeout bounds one call when the caller's context has no
	// earlier deadline.
	DefaultTimeout = 15 * time.Second
)

// ErrConfig is wrapped by every Config.Validate error.
var ErrConfig = errors.New("invalid Graph API config")

var versionPattern = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)

// Config says where the Graph API is.
type Config struct {
	// BaseURL is the scheme and host of the Graph API, optionally with a
	// path prefix, without the version: default DefaultBaseURL. Tests and
	// the load generator point it at a fake (bots/graphtest).
	BaseURL string
	// Version is the path segment of the API version, e.g. "v25.0":
	// default DefaultVersion.
	Version string
	// Timeout bounds one call when the context has no earlier deadline:
	// default DefaultTimeout.
	Timeout time.Duration
	// HTTPClient makes the calls: default a client with its own transport
	// (keep-alive, HTTP/2). Its own Timeout, if any, also applies.
	HTTPClient *http.Client
}

// DefaultConfig returns the configuration for Meta's real Graph API.
func DefaultConfig() Config {
	return Config{BaseURL: DefaultBaseURL, Version: DefaultVersion, Timeout: DefaultTimeout}
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.BaseURL == "" {
		c.BaseURL = d.BaseURL
	}
	if c.Version == "" {
		c.Version = d.Version
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	return c
}

// Validate reports every problem of c at once; empty fields count as their
// defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	u, err := url.Parse(c.BaseURL)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("%w: base URL: %w", ErrConfig, err))
	case u.Scheme != "https" && u.Scheme != "http":
		errs = append(errs, fmt.Errorf("%w: base URL %q: scheme must be http or https", ErrConfig, c.BaseURL))
	case u.Host == "":
		errs = append(errs, fmt.Errorf("%w: base URL %q has no host", ErrConfig, c.BaseURL))
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		errs = append(errs, fmt.Errorf("%w: base URL %q: no query, fragment or credentials allowed", ErrConfig, c.BaseURL))
	}
	if !versionPattern.MatchString(c.Version) {
		errs = append(errs, fmt.Errorf("%w: version %q: want the form v25.0", ErrConfig, c.Version))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%w: timeout %v is negative", ErrConfig, c.Timeout))
	}
	return errors.Join(errs...)
}

// endpoint joins the base URL, version and path ("/123/messages").
func (c Config) endpoint(path string) string {
	return strings.TrimRight(c.BaseURL, "/") + "/" + c.Version + path
}
