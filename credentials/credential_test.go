package credentials_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/credentials/credtest"
)

const secret = "Sup3r-S3cret-PW!"

func TestParseTechnology(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]credentials.Technology{"amt": credentials.AMT, " WMI ": credentials.WMI, "Asf": credentials.ASF, "snmp": credentials.SNMP} {
		got, err := credentials.ParseTechnology(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := credentials.ParseTechnology("ipmi")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ipmi")
}

func TestOriginAndOutcomeNames(t *testing.T) {
	t.Parallel()
	want := map[credentials.Origin]string{
		credentials.Task: "task", credentials.Named: "profile", credentials.Default: "default",
		credentials.Runtime: "runtime", credentials.Other: "other",
	}
	for o, s := range want {
		assert.Equal(t, s, o.String())
		back, err := credentials.ParseOrigin(s)
		require.NoError(t, err)
		assert.Equal(t, o, back)
	}
	assert.Equal(t, "not_tried", credentials.NotTried.String())
	assert.Equal(t, "auth_failed", credentials.AuthFailed.String())
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	certPEM, keyPEM := credtest.SelfSigned(t)
	keyBody := string(keyPEM[40:80]) // a piece of the base64 key
	c := credentials.Credential{User: "admin", Password: secret, ClientCertPEM: certPEM, ClientKeyPEM: keyPEM}
	p := credentials.Profile{Name: "corp", Default: true, Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: c, credentials.WMI: c}}
	e := credentials.RuntimeEntry{Host: "h1", Credential: c, Profile: "corp", Origin: credentials.Named, LearnedAt: time.Now()}
	cand := credentials.Candidate{Origin: credentials.Named, Profile: "corp", Credential: c}
	type wrapper struct {
		C credentials.Credential
		P *credentials.Profile
	}

	var outputs []string
	for _, v := range []any{c, &c, p, &p, e, cand, wrapper{C: c, P: &p}, []credentials.Credential{c}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
		outputs = append(outputs, fmt.Sprint(v), fmt.Sprintln(v))
	}
	outputs = append(outputs, c.String(), p.String(), e.String(), cand.String())

	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
		l := slog.New(h)
		l.Info("login", "cred", c, "profile", p, "entry", e, "candidate", cand)
	}
	outputs = append(outputs, logs.String())

	for _, v := range []any{c, p, e} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		outputs = append(outputs, string(b))
	}

	for _, out := range outputs {
		assert.NotContains(t, out, secret)
		assert.NotContains(t, out, keyBody)
		assert.NotContains(t, out, "PRIVATE KEY")
	}
	assert.Contains(t, c.String(), "admin")
	assert.Contains(t, c.String(), "[redacted]")
	assert.Contains(t, logs.String(), `"user":"admin"`)

	// JSON keeps the user and the certificate and drops the secrets.
	var back credentials.Credential
	b, _ := json.Marshal(c)
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, "admin", back.User)
	assert.Equal(t, certPEM, back.ClientCertPEM)
	assert.Empty(t, back.Password)
	assert.Empty(t, back.ClientKeyPEM)
}

func TestClientCertificate(t *testing.T) {
	t.Parallel()
	certPEM, keyPEM := credtest.SelfSigned(t)

	none, err := credentials.Credential{User: "admin"}.ClientCertificate()
	require.NoError(t, err)
	assert.Nil(t, none)

	got, err := credentials.Credential{ClientCertPEM: certPEM, ClientKeyPEM: keyPEM}.ClientCertificate()
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Len(t, got.Certificate, 1)

	_, err = credentials.Credential{User: "admin", ClientCertPEM: certPEM}.ClientCertificate()
	require.Error(t, err)

	_, err = credentials.Credential{User: "admin", ClientCertPEM: certPEM, ClientKeyPEM: []byte("garbage " + secret)}.ClientCertificate()
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
}

func TestAttemptReportsWithoutSecrets(t *testing.T) {
	t.Parallel()
	store := credentials.NewMemoryStore()
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.PutProfile(t.Context(), amtProfile("corp", "admin", secret, true)))
	r, err := credentials.NewResolver(store, credentials.WithGuard(credentials.NewGuard(0, 0)))
	require.NoError(t, err)
	task := cred("admin", secret+"-task")
	_, attempts, err := r.ResolveTask(t.Context(), "h1", &task, newDevice().try)
	require.Error(t, err)
	require.Len(t, attempts, 2)

	b, jerr := json.Marshal(attempts)
	require.NoError(t, jerr)
	assert.JSONEq(t, `[{"origin":"task","outcome":"auth_failed","error":"device: 401: authentication failed"},
		{"origin":"default","profile":"corp","outcome":"auth_failed","error":"device: 401: authentication failed"}]`, string(b))
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("resolved", "attempts", attempts, "first", attempts[0], "err", err)
	assert.Contains(t, logs.String(), `"first":{"origin":"task","profile":"","outcome":"auth_failed","error":"device: 401: authentication failed"}`)
	for _, out := range []string{err.Error(), fmt.Sprintf("%+v", attempts), fmt.Sprint(attempts[0]), logs.String(), string(b)} {
		assert.NotContains(t, out, secret)
	}
	assert.True(t, errors.Is(err, credentials.ErrExhausted))
	assert.True(t, errors.Is(err, credentials.ErrAuthFailed))
	assert.Equal(t, `default "corp": auth_failed: device: 401: authentication failed`, attempts[1].String())
}
