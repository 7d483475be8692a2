package redirect

import (
	"context"
	"strings"

	"github.com/amtkit/amtkit/wsman"
)

// State is the redirection state of AMT_RedirectionService (protocol.md
// §3.4): which features are enabled and whether the redirection port
// listens.
type State struct {
	IDER, SOL, Listener bool
	// EnabledState is the raw value read: 32768 plus 1 for IDE-R and 2
	// for SOL.
	EnabledState uint64
}

// StateChange says which parts of the State to change; nil leaves a part
// as it is.
type StateChange struct {
	IDER, SOL, Listener *bool
}

// ReadState reads AMT_RedirectionService.
func ReadState(ctx context.Context, ws *wsman.Client) (*State, error) {
	in, err := ws.Get(ctx, uriRedirection)
	if err != nil {
		return nil, err
	}
	return decodeState(in)
}

func decodeState(in *wsman.Instance) (*State, error) {
	es, err := in.Uint("EnabledState")
	if err != nil {
		return nil, err
	}
	l, err := in.Bool("ListenerEnabled")
	if err != nil {
		return nil, err
	}
	st := &State{EnabledState: es, Listener: l}
	if es >= redirectionStateBase && es <= redirectionStateBase+3 {
		st.IDER = (es-redirectionStateBase)&redirectionIDER != 0
		st.SOL = (es-redirectionStateBase)&redirectionSOL != 0
	}
	return st, nil
}

// SetState changes the redirection features (RequestStateChange) and the
// listener (a Put of ListenerEnabled) as ch says, sending only what
// differs, and returns the state read afterwards.
func SetState(ctx context.Context, ws *wsman.Client, ch StateChange) (*State, error) {
	in, err := ws.Get(ctx, uriRedirection)
	if err != nil {
		return nil, err
	}
	st, err := decodeState(in)
	if err != nil {
		return nil, err
	}
	ider, sol := st.IDER, st.SOL
	if ch.IDER != nil {
		ider = *ch.IDER
	}
	if ch.SOL != nil {
		sol = *ch.SOL
	}
	if ider != st.IDER || sol != st.SOL {
		want := uint64(redirectionStateBase)
		if ider {
			want |= redirectionIDER
		}
		if sol {
			want |= redirectionSOL
		}
		if err := requestRedirectionState(ctx, ws, want); err != nil {
			return nil, err
		}
		if in, err = ws.Get(ctx, uriRedirection); err != nil {
			return nil, err
		}
	}
	if ch.Listener != nil && *ch.Listener != st.Listener {
		if err := setListener(ctx, ws, in, *ch.Listener); err != nil {
			return nil, err
		}
	}
	return ReadState(ctx, ws)
}

// RefusalReason reads why the device would refuse a session of kind: the
// listener closed, the feature disabled, or user consent required. It
// returns "" when none of these holds (the device may be busy with another
// console's session).
func RefusalReason(ctx context.Context, ws *wsman.Client, kind Kind) (string, error) {
	st, err := ReadState(ctx, ws)
	if err != nil {
		if missingClass(err) {
			return "", nil
		}
		return "", err
	}
	var why []string
	if !st.Listener {
		why = append(why, "the redirection listener is closed")
	}
	switch {
	case kind == SOL && !st.SOL:
		why = append(why, "SOL is disabled in AMT_RedirectionService")
	case kind == IDER && !st.IDER:
		why = append(why, "IDE-R is disabled in AMT_RedirectionService")
	}
	if in, err := ws.Get(ctx, uriOptIn); err == nil {
		req, _ := in.Uint("OptInRequired")
		state, _ := in.Uint("OptInState")
		if req == optInRequiredAll && state != optInReceived && state != optInInSession {
			why = append(why, "the device requires user consent for redirection")
		}
	}
	if len(why) == 0 {
		return "", nil
	}
	return strings.Join(why, "; "), nil
}
