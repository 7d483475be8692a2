package wsman

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"strconv"
	"time"

	"github.com/beevik/etree"
)

// Identify asks the device who it is. It sends no credentials: AMT answers
// Identify without authentication. The Server header of the answer, which
// on AMT carries the full firmware version, is returned in Identity.Server.
func (c *Client) Identify(ctx context.Context) (*Identity, error) {
	res, err := c.exchange(ctx, op{name: "Identify", retry: true, anonymous: true}, &request{identify: true})
	if err != nil {
		return nil, err
	}
	id, err := res.msg.Identity()
	if err != nil {
		return nil, fmt.Errorf("wsman: Identify: %w", err)
	}
	id.Server = res.server
	return id, nil
}

// Get reads one instance. Singleton classes need no selectors.
func (c *Client) Get(ctx context.Context, resourceURI string, selectors ...Selector) (*Instance, error) {
	name := "Get " + ClassName(resourceURI)
	res, err := c.exchange(ctx, op{name: name, retry: true}, &request{action: ActionGet, resourceURI: resourceURI, selectors: selectors})
	if err != nil {
		return nil, err
	}
	in, err := res.msg.Instance()
	if err != nil {
		return nil, fmt.Errorf("wsman: %s: %w", name, err)
	}
	return in, nil
}

// Put writes an instance and returns the device's updated copy. Pass the
// instance read with Get, with only the writable properties changed, so
// that properties newer firmware added survive.
func (c *Client) Put(ctx context.Context, in *Instance, selectors ...Selector) (*Instance, error) {
	name := "Put " + in.Class
	res, err := c.exchange(ctx, op{name: name, retry: true, changes: true}, &request{
		action: ActionPut, resourceURI: in.ResourceURI, selectors: selectors,
		body: func(b *etree.Element) { writeInstanceElement(b, in.ResourceURI, in.Class, in.Properties) },
	})
	if err != nil {
		return nil, err
	}
	if res.msg.payload == nil {
		return in.Clone(), nil
	}
	out, err := res.msg.Instance()
	if err != nil {
		return nil, outcomeUnknown(name, err)
	}
	return out, nil
}

// Create makes a new instance and returns the reference the device
// assigned to it. It is never retried.
func (c *Client) Create(ctx context.Context, in *Instance) (*EPR, error) {
	name := "Create " + in.Class
	res, err := c.exchange(ctx, op{name: name, changes: true}, &request{
		action: ActionCreate, resourceURI: in.ResourceURI,
		body: func(b *etree.Element) { writeInstanceElement(b, in.ResourceURI, in.Class, in.Properties) },
	})
	if err != nil {
		return nil, err
	}
	ref, err := res.msg.ResourceCreated()
	if err != nil {
		return nil, outcomeUnknown(name, err)
	}
	return ref, nil
}

// Delete removes an instance. It is never retried.
func (c *Client) Delete(ctx context.Context, resourceURI string, selectors ...Selector) error {
	_, err := c.exchange(ctx, op{name: "Delete " + ClassName(resourceURI), changes: true}, &request{action: ActionDelete, resourceURI: resourceURI, selectors: selectors})
	return err
}

// Invoke calls a method. params are the method's input parameters in the
// order the method declares them (repeat a name for an array; use RefParam
// for a reference). It returns the method's _OUTPUT instance. A non-zero
// ReturnValue is returned as a *ReturnValueError together with the output.
// Invoke is never retried: if the connection fails after the request was
// sent the error matches ErrOutcomeUnknown.
func (c *Client) Invoke(ctx context.Context, resourceURI, method string, params []Property, selectors ...Selector) (*Instance, error) {
	class := ClassName(resourceURI)
	name := "Invoke " + class + "." + method
	res, err := c.exchange(ctx, op{name: name, changes: true}, &request{
		action: resourceURI + "/" + method, resourceURI: resourceURI, selectors: selectors,
		body: func(b *etree.Element) { writeInstanceElement(b, resourceURI, method+"_INPUT", params) },
	})
	if err != nil {
		return nil, err
	}
	out, err := res.msg.Instance()
	if err != nil {
		return nil, outcomeUnknown(name, err)
	}
	if v, ok := out.Get("ReturnValue"); ok {
		code, perr := strconv.Atoi(v)
		if perr != nil {
			return out, outcomeUnknown(name, malformed("ReturnValue is not a number: "+clip(v), nil))
		}
		if code != 0 {
			return out, fmt.Errorf("wsman: %w", &ReturnValueError{Class: class, Method: method, Code: code})
		}
	}
	return out, nil
}

// EnumerateOption adjusts an enumeration.
type EnumerateOption func(*enumConfig)

type enumConfig struct {
	maxElements int
	maxPages    int
	mode        EnumerationMode
}

// EnumerationMode is wsman:EnumerationMode (DSP0226 §8.7): what each item
// of an enumeration holds.
type EnumerationMode int

// Enumeration modes.
const (
	// EnumerateObjects (the default) yields the instances.
	EnumerateObjects EnumerationMode = iota
	// EnumerateEPR yields only each instance's endpoint reference
	// (Instance.EPR, no properties), as AMT answers a:EndpointReference
	// items.
	EnumerateEPR
	// EnumerateObjectAndEPR yields each instance with its endpoint
	// reference (Instance.EPR), from w:Item wrappers holding both.
	EnumerateObjectAndEPR
)

func (m EnumerationMode) String() string {
	switch m {
	case EnumerateEPR:
		return "EnumerateEPR"
	case EnumerateObjectAndEPR:
		return "EnumerateObjectAndEPR"
	}
	return "EnumerateObjects"
}

// WithEnumerationMode sets the enumeration mode (default EnumerateObjects).
func WithEnumerationMode(m EnumerationMode) EnumerateOption {
	return func(e *enumConfig) {
		if m >= EnumerateObjects && m <= EnumerateObjectAndEPR {
			e.mode = m
		}
	}
}

// PullMaxElements sets how many instances each Pull asks for (default 100).
func PullMaxElements(n int) EnumerateOption {
	return func(e *enumConfig) {
		if n > 0 {
			e.maxElements = n
		}
	}
}

// Enumerate iterates over every instance of a class: it sends Enumerate,
// then Pull until the device reports EndOfSequence. Stopping the loop early
// (or an error) releases the enumeration on the device. Only the Enumerate
// request is retried; a Pull is never resent, since the device may have
// moved the enumeration on.
func (c *Client) Enumerate(ctx context.Context, resourceURI string, opts ...EnumerateOption) iter.Seq2[*Instance, error] {
	cfg := enumConfig{maxElements: 100, maxPages: 10000}
	for _, o := range opts {
		o(&cfg)
	}
	class := ClassName(resourceURI)
	return func(yield func(*Instance, error) bool) {
		res, err := c.exchange(ctx, op{name: "Enumerate " + class, retry: true}, &request{
			action: ActionEnumerate, resourceURI: resourceURI,
			body: func(b *etree.Element) {
				e := b.CreateElement("n:Enumerate")
				e.CreateAttr("xmlns:n", NSEnumeration)
				if cfg.mode != EnumerateObjects {
					m := e.CreateElement("w:EnumerationMode")
					m.SetText(cfg.mode.String())
				}
			},
		})
		if err != nil {
			yield(nil, err)
			return
		}
		enumContext, err := res.msg.EnumerationContext()
		if err != nil {
			yield(nil, fmt.Errorf("wsman: Enumerate %s: %w", class, err))
			return
		}
		// live is the context the device still holds for this
		// enumeration; whatever way the loop ends (an error, the caller
		// stopping, a panic in the caller's loop body), it is released.
		live := enumContext
		defer func() {
			if live != "" {
				c.release(ctx, resourceURI, live)
			}
		}()
		for page := 0; ; page++ {
			if page >= cfg.maxPages {
				yield(nil, fmt.Errorf("wsman: Pull %s: %w", class, malformed("enumeration did not end after "+strconv.Itoa(cfg.maxPages)+" pages", nil)))
				return
			}
			pc := enumContext
			res, err := c.exchange(ctx, op{name: "Pull " + class}, &request{
				action: ActionPull, resourceURI: resourceURI,
				body: func(b *etree.Element) {
					p := b.CreateElement("n:Pull")
					p.CreateAttr("xmlns:n", NSEnumeration)
					p.CreateElement("n:EnumerationContext").SetText(pc)
					p.CreateElement("n:MaxElements").SetText(strconv.Itoa(cfg.maxElements))
				},
			})
			if err != nil {
				if errors.Is(err, ErrInvalidEnumerationContext) {
					live = "" // the device no longer holds it
				}
				yield(nil, err)
				return
			}
			pp, err := res.msg.Pull()
			if err != nil {
				yield(nil, fmt.Errorf("wsman: Pull %s: %w", class, err))
				return
			}
			if pp.End {
				live = ""
			} else {
				live = pp.Context
			}
			for _, in := range pp.Items {
				if !yield(in, nil) {
					return
				}
			}
			if pp.End {
				return
			}
			enumContext = pp.Context
		}
	}
}

// EnumerateAll collects every instance of a class.
func (c *Client) EnumerateAll(ctx context.Context, resourceURI string, opts ...EnumerateOption) ([]*Instance, error) {
	var out []*Instance
	for in, err := range c.Enumerate(ctx, resourceURI, opts...) {
		if err != nil {
			return out, err
		}
		out = append(out, in)
	}
	return out, nil
}

// release ends an enumeration the caller abandoned. It runs even when ctx
// is done, under a short timeout of its own; its failure is only logged.
func (c *Client) release(ctx context.Context, resourceURI, enumContext string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := c.exchange(rctx, op{name: "Release " + ClassName(resourceURI)}, &request{
		action: ActionRelease, resourceURI: resourceURI,
		body: func(b *etree.Element) {
			r := b.CreateElement("n:Release")
			r.CreateAttr("xmlns:n", NSEnumeration)
			r.CreateElement("n:EnumerationContext").SetText(enumContext)
		},
	})
	if err != nil {
		c.cfg.logger.LogAttrs(ctx, slog.LevelDebug, "wsman release failed", slog.String("class", ClassName(resourceURI)), slog.String("error", err.Error()))
	}
}
