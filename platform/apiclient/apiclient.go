// Package apiclient is a small JSON client for Codexion's own HTTP API, used by the CLI and
// the simulator. It turns problem+json answers back into platform errors.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/codexion/codexion/platform"
)

// maxResponseBytes bounds a response body.
const maxResponseBytes = 64 << 20

// Client calls one Codexion API with one bearer token.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

// New returns a client with a sane timeout.
func New(baseURL, token string) *Client {
	return &Client{BaseURL: baseURL, Token: token, HTTP: &http.Client{Timeout: 2 * time.Minute}}
}

// Error is a problem+json answer.
type Error struct {
	Status int
	Code   string
	Detail string
	Fields []platform.FieldError
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail)
}

// Response is what a call returned besides its body.
type Response struct {
	Status int
	Header http.Header
}

// Do sends in (JSON, or nothing when nil) and decodes the answer into out (when non-nil).
// A non-2xx answer is an *Error.
func (c *Client) Do(ctx context.Context, method, path string, in, out any, headers ...string) (Response, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return Response{}, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return Response{}, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Response{}, platform.Unavailable(err, "Codexion API at %s", c.BaseURL)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return Response{}, err
	}
	r := Response{Status: resp.StatusCode, Header: resp.Header}
	if resp.StatusCode >= 300 {
		var p struct {
			Code   string                `json:"code"`
			Detail string                `json:"detail"`
			Errors []platform.FieldError `json:"errors"`
		}
		_ = json.Unmarshal(data, &p)
		if p.Code == "" {
			p.Code, p.Detail = http.StatusText(resp.StatusCode), string(bytes.TrimSpace(data))
		}
		return r, &Error{Status: resp.StatusCode, Code: p.Code, Detail: p.Detail, Fields: p.Errors}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return r, fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return r, nil
}
