package redirect

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestATAPICommands(t *testing.T) {
	t.Parallel()
	cdImg := &Medium{Reader: bytes.NewReader(make([]byte, 100*2048)), Size: 100 * 2048}
	fdImg := &Medium{Reader: bytes.NewReader(make([]byte, 2880*512)), Size: 2880 * 512}
	ls120 := &Medium{Reader: bytes.NewReader(nil), Size: 120 << 20}
	c := func(b ...byte) []byte { out := make([]byte, 12); copy(out, b); return out }
	type check func(t *testing.T, r result)
	data := func(want ...byte) check {
		return func(t *testing.T, r result) { assert.Equal(t, want, r.data) }
	}
	length := func(n int) check {
		return func(t *testing.T, r result) { assert.Len(t, r.data, n) }
	}
	for _, tc := range []struct {
		name   string
		cd     bool
		medium *Medium
		cdb    []byte
		sense  sense
		check  check
	}{
		{"TUR no media", true, nil, c(0x00), senseNoMedium, nil},
		{"TUR after attach", true, cdImg, c(0x00), senseMediumChanged, nil},
		{"REQUEST SENSE", true, nil, c(0x03, 0, 0, 0, 18), senseGood, length(18)},
		{"INQUIRY CD", true, cdImg, c(0x12, 0, 0, 0, 36), senseGood, func(t *testing.T, r result) {
			assert.Equal(t, byte(0x05), r.data[0])
			assert.Equal(t, byte(0x80), r.data[1])
		}},
		{"INQUIRY floppy truncated", false, fdImg, c(0x12, 0, 0, 0, 5), senseGood, length(5)},
		{"READ(6)", false, fdImg, c(0x08, 0, 0, 1, 2), senseGood, func(t *testing.T, r result) {
			assert.Equal(t, result{read: true, lba: 1, count: 2}, r)
		}},
		{"READ(6) count 0 is 256", false, fdImg, c(0x08, 0, 0, 0, 0), senseGood, func(t *testing.T, r result) { assert.Equal(t, int64(256), r.count) }},
		{"READ(10)", true, cdImg, cdb10(0x28, 99, 1), senseGood, func(t *testing.T, r result) { assert.Equal(t, result{read: true, lba: 99, count: 1}, r) }},
		{"READ(10) past the end", true, cdImg, cdb10(0x28, 99, 2), senseLBARange, nil},
		{"READ(10) count 0", true, cdImg, cdb10(0x28, 5, 0), senseGood, data()},
		{"READ(10) no media", true, nil, cdb10(0x28, 0, 1), senseNoMedium, nil},
		{"READ(12)", true, cdImg, cdb12(0xA8, 10, 90), senseGood, func(t *testing.T, r result) { assert.Equal(t, int64(90), r.count) }},
		{"READ(12) huge count", true, cdImg, cdb12(0xA8, 0, 0xFFFFFFFF), senseLBARange, nil},
		{"WRITE(6)", false, fdImg, c(0x0A), senseWriteProtect, nil},
		{"WRITE(10)", true, cdImg, cdb10(0x2A, 0, 1), senseWriteProtect, nil},
		{"WRITE AND VERIFY", true, cdImg, cdb10(0x2E, 0, 1), senseWriteProtect, nil},
		{"WRITE no media", true, nil, cdb10(0x2A, 0, 1), senseNoMedium, nil},
		{"MODE SENSE(6) all", true, cdImg, c(0x1A, 0, 0x3F, 0, 255), senseGood, data(3, 0x05, 0x80, 0)},
		{"MODE SENSE(6) floppy", false, fdImg, c(0x1A, 0, 0x3F, 0, 255), senseGood, data(3, 0x00, 0x80, 0)},
		{"MODE SENSE(6) other page", true, cdImg, c(0x1A, 0, 0x2A, 0, 255), senseInvalidField, nil},
		{"START STOP", true, nil, c(0x1B), senseGood, data()},
		{"PREVENT ALLOW", true, cdImg, c(0x1E), senseGood, data()},
		{"PREVENT ALLOW no media", true, nil, c(0x1E), senseNoMedium, nil},
		{"READ FORMAT CAPACITIES", false, fdImg, c(0x23, 0, 0, 0, 0, 0, 0, 0, 12), senseGood, data(0, 0, 0, 8, 0, 0, 0x0B, 0x40, 2, 0, 2, 0)},
		{"READ CAPACITY CD", true, cdImg, c(0x25), senseGood, data(0, 0, 0, 99, 0, 0, 8, 0)},
		{"READ CAPACITY floppy", false, fdImg, c(0x25), senseGood, data(0, 0, 0x0B, 0x3F, 0, 0, 2, 0)},
		{"READ CAPACITY no media", true, nil, c(0x25), senseNoMedium, nil},
		{"READ TOC LBA", true, cdImg, c(0x43, 0, 0, 0, 0, 0, 0, 0, 20), senseGood,
			data(0, 18, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0, 0, 0x14, 0xAA, 0, 0, 0, 0, 100)},
		{"READ TOC MSF", true, cdImg, c(0x43, 0x02, 0, 0, 0, 0, 0, 0, 20), senseGood,
			data(0, 18, 1, 1, 0, 0x14, 1, 0, 0, 0, 2, 0, 0, 0x14, 0xAA, 0, 0, 0, 3, 25)},
		{"READ TOC truncated", true, cdImg, c(0x43, 0, 0, 0, 0, 0, 0, 0, 4), senseGood, data(0, 18, 1, 1)},
		{"READ TOC lead-out only", true, cdImg, c(0x43, 0, 0, 0, 0, 0, 0xAA, 0, 20), senseGood, length(12)},
		{"READ TOC session info", true, cdImg, c(0x43, 0, 1, 0, 0, 0, 0, 0, 12), senseGood, data(0, 10, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0)},
		{"READ TOC legacy format field", true, cdImg, c(0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0x40), senseGood, length(12)},
		{"READ TOC other format", true, cdImg, c(0x43, 0, 2, 0, 0, 0, 0, 0, 12), senseInvalidField, nil},
		{"READ TOC floppy", false, fdImg, c(0x43, 0, 0, 0, 0, 0, 0, 0, 12), senseInvalidOpcode, nil},
		{"GET CONFIGURATION all", true, cdImg, c(0x46, 0, 0, 0, 0, 0, 0, 2, 0), senseGood, func(t *testing.T, r result) {
			require.GreaterOrEqual(t, len(r.data), 8)
			assert.Equal(t, uint32(len(r.data)-4), binary.BigEndian.Uint32(r.data))
			assert.Equal(t, uint16(8), binary.BigEndian.Uint16(r.data[6:]))
			assert.Equal(t, []byte{0, 0}, r.data[8:10], "profile list first")
		}},
		{"GET CONFIGURATION one", true, cdImg, c(0x46, 2, 0, 0x10, 0, 0, 0, 0, 255), senseGood, func(t *testing.T, r result) {
			assert.Equal(t, []byte{0, 0x10, 0x03, 8, 0, 0, 8, 0, 0, 1, 0, 0}, r.data[8:])
		}},
		{"GET CONFIGURATION truncated", true, cdImg, c(0x46, 0, 0, 0, 0, 0, 0, 0, 8), senseGood, length(8)},
		{"GET CONFIGURATION no media", true, nil, c(0x46, 1, 0, 0, 0, 0, 0, 2, 0), senseGood, func(t *testing.T, r result) {
			assert.Equal(t, uint16(0), binary.BigEndian.Uint16(r.data[6:]))
		}},
		{"GET EVENT STATUS", true, cdImg, c(0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8), senseGood, data(0, 6, 4, 0x10, 2, 2, 0, 0)},
		{"GET EVENT STATUS async", true, cdImg, c(0x4A, 0, 0, 0, 0x10, 0, 0, 0, 8), senseInvalidField, nil},
		{"GET EVENT STATUS other class", true, cdImg, c(0x4A, 1, 0, 0, 0x02, 0, 0, 0, 8), senseParamNotSupp, nil},
		{"READ DISC INFORMATION", true, cdImg, c(0x51, 0, 0, 0, 0, 0, 0, 0, 34), senseGood, func(t *testing.T, r result) {
			require.Len(t, r.data, 34)
			assert.Equal(t, byte(0x0E), r.data[2])
		}},
		{"READ DISC INFORMATION format 1", true, cdImg, c(0x51, 1, 0, 0, 0, 0, 0, 0, 34), senseInvalidField, nil},
		{"READ TRACK INFORMATION", true, cdImg, c(0x52, 1, 0, 0, 0, 1, 0, 0, 48), senseGood, length(48)},
		{"MODE SELECT(10)", true, cdImg, c(0x55), senseInvalidOpcode, nil},
		{"MODE SENSE(10) CD capabilities", true, cdImg, c(0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 255), senseGood, func(t *testing.T, r result) {
			assert.Len(t, r.data, 8+26)
			assert.Equal(t, []byte{0, 32, 0x01, 0x80}, r.data[:4])
		}},
		{"MODE SENSE(10) all CD pages", true, cdImg, c(0x5A, 0, 0x3F, 0, 0, 0, 0, 0, 255), senseGood, length(8 + 12 + 12 + 10 + 26)},
		{"MODE SENSE(10) error recovery floppy", false, fdImg, c(0x5A, 0, 0x01, 0, 0, 0, 0, 0, 255), senseGood, length(20)},
		{"MODE SENSE(10) LS-120", false, ls120, c(0x5A, 0, 0x05, 0, 0, 0, 0, 0, 255), senseGood, func(t *testing.T, r result) {
			assert.Equal(t, byte(0x31), r.data[2])
		}},
		{"MODE SENSE(10) flexible page on a CD", true, cdImg, c(0x5A, 0, 0x05, 0, 0, 0, 0, 0, 255), senseInvalidField, nil},
		{"MODE SENSE(10) truncated", true, cdImg, c(0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 10), senseGood, length(10)},
		{"GET PERFORMANCE", true, cdImg, c(0xAC), senseGood, data(0, 0, 0, 4, 0, 0, 0, 0)},
		{"unknown opcode", true, cdImg, c(0xBB), senseInvalidOpcode, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDrive(tc.cd, tc.medium)
			var scratch [scratchSize]byte
			r := d.execute(tc.cdb, scratch[:])
			assert.Equal(t, tc.sense, r.sense)
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestATAPIUnitAttentionOnceAndAfterReset(t *testing.T) {
	t.Parallel()
	d := newDrive(true, &Medium{Reader: bytes.NewReader(make([]byte, 2048)), Size: 2048})
	var s [scratchSize]byte
	tur := make([]byte, 12)
	assert.Equal(t, senseMediumChanged, d.execute(tur, s[:]).sense)
	r := d.execute([]byte{0x03, 0, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0}, s[:])
	assert.Equal(t, senseGood, r.sense)
	assert.Equal(t, byte(0x06), r.data[2]&0x0F, "REQUEST SENSE reports the previous sense")
	assert.Equal(t, senseGood, d.execute(tur, s[:]).sense)
	d.reset()
	assert.Equal(t, senseMediumChanged, d.execute(tur, s[:]).sense)
	assert.Equal(t, senseGood, d.execute(tur, s[:]).sense)
}

func TestReadFullPadsTheLastBlock(t *testing.T) {
	t.Parallel()
	m := &Medium{Reader: bytes.NewReader([]byte{1, 2, 3}), Size: 3}
	p := bytes.Repeat([]byte{0xEE}, 8)
	require.NoError(t, readFull(m, 0, p))
	assert.Equal(t, []byte{1, 2, 3, 0, 0, 0, 0, 0}, p)
	short := &Medium{Reader: bytes.NewReader([]byte{1}), Size: 3}
	require.Error(t, readFull(short, 0, p))
}
