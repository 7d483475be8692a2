// Package amt manages one Intel AMT (vPro) device out of band. New ties an
// endpoint to a WS-Management client; the Client reads the device's
// identity without credentials and its inventory with them.
//
//	c, err := amt.New("192.0.2.10", amt.WithCredentials("admin", password))
//	inv, err := c.Inventory(ctx)
//
// # Errors
//
// Every failure is an *Error classified for people: ErrUnreachable,
// ErrNotDetected (something answers, but not AMT), ErrTLS, ErrAuthFailed,
// ErrLockedOut, ErrNotProvisioned or ErrDevice. Match them with errors.Is;
// the wsman error underneath stays reachable with errors.Is and errors.As,
// and ReturnCode extracts a device status code.
//
// # Concurrency
//
// A Client is safe for concurrent use; requests to one device are sent one
// at a time. CloseIdleConnections releases the connections it keeps open.
package amt
