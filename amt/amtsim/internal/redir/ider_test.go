package redir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestReadIDER(t *testing.T) {
	var buf [IDERDataToHostLen]byte

	ping := IDERMsg(IDERPing, IDERHdrLen)
	m, owned, err := ReadIDER(bytes.NewReader(ping), &buf)
	if err != nil || owned || !bytes.Equal(m, ping) {
		t.Fatalf("ping: %x %v %v", m, owned, err)
	}

	set := IDERMsg(IDERFeatures, IDERFeaturesSetLen)
	set[8] = FeatSetState
	binary.LittleEndian.PutUint32(set[9:13], RegEnable|0x18)
	m, _, err = ReadIDER(bytes.NewReader(set), &buf)
	if err != nil || !bytes.Equal(m, set) {
		t.Fatalf("SET_REGISTER_STATE: %x %v", m, err)
	}

	data := IDERMsg(IDERDataToHost, IDERDataToHostLen+3)
	binary.LittleEndian.PutUint16(data[9:11], 3)
	copy(data[IDERDataToHostLen:], "abc")
	m, owned, err = ReadIDER(bytes.NewReader(data), &buf)
	if err != nil || !owned || !bytes.Equal(m, data) {
		t.Fatalf("DATA_TO_HOST: %x %v %v", m, owned, err)
	}

	if _, _, err := ReadIDER(bytes.NewReader(data[:len(data)-1]), &buf); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated DATA_TO_HOST: %v, want io.ErrUnexpectedEOF", err)
	}
	big := IDERMsg(IDERDataToHost, IDERDataToHostLen)
	binary.LittleEndian.PutUint16(big[9:11], IDERMaxBuffer+1)
	if _, _, err := ReadIDER(bytes.NewReader(big), &buf); err == nil {
		t.Error("DATA_TO_HOST beyond the read buffer accepted")
	}
	if _, _, err := ReadIDER(bytes.NewReader([]byte{0x99, 0, 0, 0}), &buf); err == nil {
		t.Error("unknown message accepted")
	}
	if _, _, err := ReadIDER(bytes.NewReader([]byte{End, 0, 0, 0}), &buf); !errors.Is(err, ErrClosed) {
		t.Errorf("EndRedirectionSession: %v, want ErrClosed", err)
	}
}
