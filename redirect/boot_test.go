package redirect

import (
	"bytes"
	"context"
	"errors"

	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/wsman"
)

// bootRig is a simulated machine: WS-Management from amtsim (power, boot
// settings, boot records), the redirection port from the fake, whose BIOS
// reads the CD once amtsim records a boot from IDE-R, the way a machine
// reads it after the reset.
type bootRig struct {
	sim  *amtsim.Server
	dev  *amtsim.Device
	ws   *wsman.Client
	pw   *power.Service
	fake *fakeAMT
	read chan []byte
}

func newBootRig(t *testing.T, powerState int, wsURL func(simURL string) string) *bootRig {
	t.Helper()
	sim, err := amtsim.New(amtsim.Options{PowerState: powerState, TransitionTime: time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sim.Close()) })
	r := &bootRig{sim: sim, dev: sim.Devices()[0], read: make(chan []byte, 1)}
	u := sim.URL()
	if wsURL != nil {
		u = wsURL(u)
	}
	r.ws, err = wsman.NewClient(u+"/wsman", wsman.WithCredentials(testUser, testPassword))
	require.NoError(t, err)
	t.Cleanup(r.ws.CloseIdleConnections)
	r.pw = power.New(r.ws, power.WithPollInterval(5*time.Millisecond), power.WithMinGap(0))
	img := makeISO(256, 8)
	r.fake = newFakeAMT(t, func(p *peer) error {
		r.dev.SetRedirectionSession(true)
		defer r.dev.SetRedirectionSession(false)
		if _, err := p.open(8192, 0, 1); err != nil {
			return err
		}
		deadline := time.Now().Add(5 * time.Second)
		// The simulator records the boot; this fake plays its BIOS.
		for b := r.dev.Boots(); len(b) == 0 || !b[len(b)-1].UseIDER || b[len(b)-1].IDERBootDevice != 1; b = r.dev.Boots() {
			if time.Now().After(deadline) {
				return fmt.Errorf("the machine never booted from IDE-R: %+v %v", r.dev.Boots(), r.dev.PowerRequests())
			}
			time.Sleep(5 * time.Millisecond)
		}
		p.send(0x46, []byte{1})
		if _, err := p.expectID(0x47); err != nil {
			return err
		}
		got, err := biosBoot(p, 256)
		if errors.Is(err, errConsoleClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		r.read <- got
		return p.closeSession()
	})
	_ = img
	return r
}

func (r *bootRig) dial(ctx context.Context, kind Kind) (*Session, error) {
	return Dial(ctx, r.fake.addr(), kind, testCred, Options{})
}

func bootMedia() IDERMedia {
	img := makeISO(256, 8)
	return IDERMedia{CD: &Medium{Reader: bytes.NewReader(img), Size: int64(len(img))}}
}

func untilBooted(p Progress) bool { return p.BytesServed >= 4*2048 }

func TestBootFromImage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		state  int
		action power.Action
	}{
		{"machine on is reset", 2, power.Reset},
		{"machine off is powered on", 8, power.On},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newBootRig(t, tc.state, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := BootFromImage(ctx, r.ws, r.pw, r.dial, BootOptions{Media: bootMedia(), Until: untilBooted, SOL: true})
			require.NoError(t, err)
			assert.Equal(t, tc.action, res.Action)
			assert.Equal(t, power.BootIDERCD, res.Device)
			require.NotNil(t, res.Stats)
			assert.Equal(t, StopUntil, res.Stats.Stop)
			assert.False(t, res.RedirectionServiceMissing, "the simulator serves AMT_RedirectionService")
			assert.False(t, res.OptInServiceMissing)
			assert.Equal(t, []string{"boot options"}, res.Restored)
			assert.Empty(t, res.RestoreErrors)
			got := <-r.read
			img := makeISO(256, 8)
			assert.Equal(t, img[17*2048:18*2048], got[:2048])

			boots := r.dev.Boots()
			last := boots[len(boots)-1]
			assert.True(t, last.UseIDER)
			assert.True(t, last.UseSOL)
			assert.Equal(t, 1, last.IDERBootDevice)
			for _, req := range r.dev.PowerRequests() {
				assert.NotContains(t, []int{5, 8}, req, "no power cycle or power-off during a redirection session")
			}
			bsd, err := r.pw.BootSettings(ctx)
			require.NoError(t, err)
			assert.Equal(t, "false", bsd.String("UseIDER"), "boot settings restored")
			assert.Equal(t, "false", bsd.String("UseSOL"))
		})
	}
}

func TestBootFromImageRestoresOnError(t *testing.T) {
	t.Parallel()
	r := newBootRig(t, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	failing := func(ctx context.Context, kind Kind) (*Session, error) {
		s, err := r.dial(ctx, kind)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	// The context ends while the image is served: the boot settings are
	// still cleared, under the cleanup's own timeout.
	sctx, scancel := context.WithCancel(ctx)
	res, err := BootFromImage(sctx, r.ws, r.pw, failing, BootOptions{Media: bootMedia(), Until: func(p Progress) bool {
		if p.BytesServed > 0 {
			scancel()
		}
		return false
	}})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, []string{"boot options"}, res.Restored)
	assert.Equal(t, StopContext, res.Stats.Stop)
	bsd, err := r.pw.BootSettings(ctx)
	require.NoError(t, err)
	assert.Equal(t, "false", bsd.String("UseIDER"))
	select {
	case <-r.read:
	default:
	}
}

func TestBootFromImageBadOptions(t *testing.T) {
	t.Parallel()
	_, err := BootFromImage(context.Background(), nil, nil, nil, BootOptions{})
	require.Error(t, err)
	_, err = BootFromImage(context.Background(), nil, nil, nil, BootOptions{Media: bootMedia(), Device: power.BootIDERFloppy})
	require.ErrorContains(t, err, "needs that medium")
	_, err = BootFromImage(context.Background(), nil, nil, nil, BootOptions{Media: bootMedia(), Device: power.BootPXE})
	require.ErrorContains(t, err, "boot device must be")
}

// wsFront answers AMT_RedirectionService and IPS_OptInService itself, the
// way firmware that has them does, and passes everything else to amtsim.
type wsFront struct {
	mu            sync.Mutex
	enabledState  int
	listener      bool
	optInRequired uint64
	optInState    int
	code          string
	calls         []string
}

var (
	reResource = regexp.MustCompile(`ResourceURI[^>]*>([^<]+)<`)
	reAction   = regexp.MustCompile(`Action[^>]*>([^<]+)<`)
	reListener = regexp.MustCompile(`ListenerEnabled>([^<]+)<`)
	reState    = regexp.MustCompile(`RequestedState>([^<]+)<`)
	reCode     = regexp.MustCompile(`OptInCode>([^<]+)<`)
)

func (f *wsFront) handler(sim string) http.Handler {
	target, _ := url.Parse(sim)
	proxy := httputil.NewSingleHostReverseProxy(target)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		res := reResource.FindSubmatch(body)
		if res == nil || !bytes.HasSuffix(res[1], []byte("AMT_RedirectionService")) && !bytes.HasSuffix(res[1], []byte("IPS_OptInService")) {
			proxy.ServeHTTP(w, req)
			return
		}
		uri := string(res[1])
		action := string(reAction.FindSubmatch(body)[1])
		f.mu.Lock()
		defer f.mu.Unlock()
		method := action[bytes.LastIndexByte([]byte(action), '/')+1:]
		f.calls = append(f.calls, method)
		class := uri[bytes.LastIndexByte([]byte(uri), '/')+1:]
		var payload string
		switch method {
		case "Get", "Put":
			if method == "Put" {
				f.listener = string(reListener.FindSubmatch(body)[1]) == "true"
			}
			if class == "AMT_RedirectionService" {
				payload = fmt.Sprintf(`<g:AMT_RedirectionService><g:CreationClassName>AMT_RedirectionService</g:CreationClassName><g:ElementName>Intel(r) AMT Redirection Service</g:ElementName><g:EnabledState>%d</g:EnabledState><g:ListenerEnabled>%v</g:ListenerEnabled><g:Name>Intel(r) AMT Redirection Service</g:Name><g:SystemCreationClassName>CIM_ComputerSystem</g:SystemCreationClassName><g:SystemName>Intel(r) AMT</g:SystemName></g:AMT_RedirectionService>`, f.enabledState, f.listener)
			} else {
				payload = fmt.Sprintf(`<g:IPS_OptInService><g:CanModifyOptInPolicy>1</g:CanModifyOptInPolicy><g:OptInCodeTimeout>120</g:OptInCodeTimeout><g:OptInRequired>%d</g:OptInRequired><g:OptInState>%d</g:OptInState></g:IPS_OptInService>`, f.optInRequired, f.optInState)
			}
		default:
			rv := 0
			switch method {
			case "RequestStateChange":
				f.enabledState, _ = strconv.Atoi(string(reState.FindSubmatch(body)[1]))
			case "StartOptIn":
				f.optInState = 2
			case "SendOptInCode":
				got, _ := strconv.Atoi(string(reCode.FindSubmatch(body)[1]))
				if want, _ := strconv.Atoi(f.code); got == want {
					f.optInState = 3
				} else {
					rv = 2066
				}
			case "CancelOptIn":
				f.optInState = 0
			}
			payload = fmt.Sprintf(`<g:%s_OUTPUT><g:ReturnValue>%d</g:ReturnValue></g:%s_OUTPUT>`, method, rv, method)
		}
		w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:g="%s"><a:Header><b:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</b:To><b:Action>%sResponse</b:Action><b:MessageID>uuid:1</b:MessageID></a:Header><a:Body>%s</a:Body></a:Envelope>`, uri, action, payload)
	})
}

func frontedRig(t *testing.T, f *wsFront) *bootRig {
	return newBootRig(t, 2, func(sim string) string {
		srv := httptest.NewServer(f.handler(sim))
		t.Cleanup(srv.Close)
		return srv.URL
	})
}

func TestBootFromImageEnablesAndRestoresRedirection(t *testing.T) {
	t.Parallel()
	f := &wsFront{enabledState: 32770, listener: false, optInRequired: 4294967295, code: "012345"}
	r := frontedRig(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	asked := 0
	res, err := BootFromImage(ctx, r.ws, r.pw, r.dial, BootOptions{
		Media: bootMedia(), Until: untilBooted,
		ConsentCode: func(context.Context) (string, error) { asked++; return "012345", nil },
	})
	require.NoError(t, err)
	<-r.read
	assert.Equal(t, 1, asked)
	assert.True(t, res.FeaturesEnabled)
	assert.True(t, res.ListenerOpened)
	assert.True(t, res.ConsentObtained)
	assert.False(t, res.RedirectionServiceMissing)
	assert.Equal(t, []string{"boot options", "redirection listener", "redirection features"}, res.Restored)
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Equal(t, 32770, f.enabledState, "IDE-R disabled again, SOL left enabled")
	assert.False(t, f.listener)
	assert.Contains(t, f.calls, "StartOptIn")
	assert.Contains(t, f.calls, "SendOptInCode")
}

func TestBootFromImageConsentRequired(t *testing.T) {
	t.Parallel()
	f := &wsFront{enabledState: 32768, listener: false, optInRequired: 4294967295}
	r := frontedRig(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := BootFromImage(ctx, r.ws, r.pw, r.dial, BootOptions{Media: bootMedia(), Until: untilBooted})
	require.ErrorIs(t, err, ErrConsentRequired)
	var ce *ConsentRequiredError
	require.ErrorAs(t, err, &ce)
	assert.Nil(t, res.Stats, "no session was opened")
	assert.Equal(t, []string{"redirection listener", "redirection features"}, res.Restored)
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Equal(t, 32768, f.enabledState)
	assert.False(t, f.listener)
	assert.Empty(t, r.dev.Boots())
}

func TestBootFromImageWrongConsentCode(t *testing.T) {
	t.Parallel()
	f := &wsFront{enabledState: 32771, listener: true, optInRequired: 4294967295, code: "111111"}
	r := frontedRig(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := BootFromImage(ctx, r.ws, r.pw, r.dial, BootOptions{Media: bootMedia(),
		ConsentCode: func(context.Context) (string, error) { return "222222", nil }})
	var rv *wsman.ReturnValueError
	require.ErrorAs(t, err, &rv)
	assert.Equal(t, 2066, rv.Code)
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Equal(t, "CancelOptIn", f.calls[len(f.calls)-1])
}
