package redirect

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Medium is a read-only image presented to the machine: a CD-ROM image
// (2048-byte blocks) or a floppy image (512-byte blocks), read from Reader
// as the machine asks for blocks. A size that is not a multiple of the block
// size is padded with zeros to the next block.
type Medium struct {
	Reader io.ReaderAt
	Size   int64
}

// Block sizes of the emulated devices (protocol.md §3.7.4).
const (
	CDBlockSize     = 2048
	FloppyBlockSize = 512
)

// floppy1440Blocks is the size of a 1.44 MB floppy; larger images are
// presented as an LS-120 disk.
const floppy1440Blocks = 2880

// sense is a SCSI sense key with its additional sense code and qualifier.
type sense struct{ key, asc, ascq byte }

// Sense codes the emulator returns (protocol.md §3.7.4).
var (
	senseGood          = sense{}
	senseNoMedium      = sense{0x02, 0x3A, 0x00}
	senseMediumChanged = sense{0x06, 0x28, 0x00}
	senseInvalidOpcode = sense{0x05, 0x20, 0x00}
	senseLBARange      = sense{0x05, 0x21, 0x00}
	senseInvalidField  = sense{0x05, 0x24, 0x00}
	senseParamNotSupp  = sense{0x05, 0x26, 0x01}
	senseWriteProtect  = sense{0x07, 0x27, 0x00}
)

func (s sense) String() string { return fmt.Sprintf("%02X/%02X/%02X", s.key, s.asc, s.ascq) }

// ATAPI/SCSI operation codes the emulator answers.
const (
	opTestUnitReady       = 0x00
	opRequestSense        = 0x03
	opRead6               = 0x08
	opWrite6              = 0x0A
	opInquiry             = 0x12
	opModeSense6          = 0x1A
	opStartStopUnit       = 0x1B
	opPreventAllow        = 0x1E
	opReadFormatCaps      = 0x23
	opReadCapacity        = 0x25
	opRead10              = 0x28
	opWrite10             = 0x2A
	opWriteVerify10       = 0x2E
	opReadTOC             = 0x43
	opGetConfiguration    = 0x46
	opGetEventStatus      = 0x4A
	opReadDiscInformation = 0x51
	opReadTrackInfo       = 0x52
	opModeSelect10        = 0x55
	opModeSense10         = 0x5A
	opWrite12             = 0xAA
	opRead12              = 0xA8
	opGetPerformance      = 0xAC
)

// drive is one emulated device: the CD-ROM (slave, 0xB0) or the floppy
// (master, 0xA0).
type drive struct {
	cd        bool
	medium    *Medium
	blockSize int64
	blocks    int64
	attention bool // UNIT ATTENTION pending for the next TEST UNIT READY
	newMedia  bool // GET EVENT STATUS reports "new media" once
	last      sense
}

func newDrive(cd bool, m *Medium) *drive {
	d := &drive{cd: cd, medium: m, blockSize: FloppyBlockSize}
	if cd {
		d.blockSize = CDBlockSize
	}
	if m != nil {
		d.blocks = (m.Size + d.blockSize - 1) / d.blockSize
		d.attention, d.newMedia = true, true
	}
	return d
}

// reset is a bus reset: the medium reports a change again.
func (d *drive) reset() {
	if d.medium != nil {
		d.attention = true
	}
}

// result is the answer to one command: a check condition, inline data, a
// read of blocks from the medium, or plain success.
type result struct {
	sense sense
	data  []byte
	read  bool
	lba   int64
	count int64 // blocks
}

func checkCondition(s sense) result { return result{sense: s} }

// scratchSize bounds the inline answers; the largest is GET CONFIGURATION.
const scratchSize = 512

// execute answers one CDB. Inline data is built in scratch (at least
// scratchSize bytes) and truncated to the command's allocation length.
func (d *drive) execute(cdb []byte, scratch []byte) result {
	r := d.dispatch(cdb, scratch[:scratchSize])
	d.last = r.sense
	return r
}

func be16(b []byte) int { return int(binary.BigEndian.Uint16(b)) }

func (d *drive) dispatch(cdb []byte, s []byte) result {
	clear(s)
	present := d.medium != nil
	switch cdb[0] {
	case opTestUnitReady:
		if !present {
			return checkCondition(senseNoMedium)
		}
		if d.attention {
			d.attention = false
			return checkCondition(senseMediumChanged)
		}
		return result{}
	case opRequestSense:
		// Fixed-format sense data with the sense of the previous command.
		s[0], s[2], s[7], s[12], s[13] = 0x70, d.last.key, 10, d.last.asc, d.last.ascq
		return inline(s[:18], int(cdb[4]))
	case opInquiry:
		if d.cd {
			s[0] = 0x05
			copy(s[16:32], "Virtual CD-ROM  ")
		} else {
			copy(s[16:32], "Virtual Floppy  ")
		}
		s[1], s[2], s[3], s[4] = 0x80, 0x00, 0x21, 31
		copy(s[8:16], "AMTKIT  ")
		copy(s[32:36], "1.00")
		return inline(s[:36], int(cdb[4]))
	case opRead6, opRead10, opRead12:
		if !present {
			return checkCondition(senseNoMedium)
		}
		var lba, count int64
		switch cdb[0] {
		case opRead6:
			lba = int64(cdb[1]&0x1F)<<16 | int64(cdb[2])<<8 | int64(cdb[3])
			count = int64(cdb[4])
			if count == 0 {
				count = 256
			}
		case opRead10:
			lba = int64(binary.BigEndian.Uint32(cdb[2:6]))
			count = int64(be16(cdb[7:9]))
		case opRead12:
			lba = int64(binary.BigEndian.Uint32(cdb[2:6]))
			count = int64(binary.BigEndian.Uint32(cdb[6:10]))
		}
		if lba+count > d.blocks {
			return checkCondition(senseLBARange)
		}
		if count == 0 {
			return result{}
		}
		return result{read: true, lba: lba, count: count}
	case opWrite6, opWrite10, opWriteVerify10, opWrite12:
		if !present {
			return checkCondition(senseNoMedium)
		}
		return checkCondition(senseWriteProtect)
	case opModeSense6:
		if cdb[2]&0x3F != 0x3F || cdb[3] != 0 {
			return checkCondition(senseInvalidField)
		}
		s[0], s[1], s[2] = 3, 0x05, 0x80
		if !d.cd {
			s[1] = 0x00
		}
		return inline(s[:4], int(cdb[4]))
	case opModeSense10:
		return d.modeSense10(cdb, s)
	case opStartStopUnit:
		return result{}
	case opPreventAllow:
		if !present {
			return checkCondition(senseNoMedium)
		}
		return result{}
	case opReadFormatCaps:
		if !present {
			return checkCondition(senseNoMedium)
		}
		s[3] = 8
		binary.BigEndian.PutUint32(s[4:8], uint32(d.blocks))
		s[8] = 0x02 // formatted media
		s[9], s[10], s[11] = byte(d.blockSize>>16), byte(d.blockSize>>8), byte(d.blockSize)
		return inline(s[:12], be16(cdb[7:9]))
	case opReadCapacity:
		if !present {
			return checkCondition(senseNoMedium)
		}
		binary.BigEndian.PutUint32(s[0:4], uint32(d.blocks-1))
		binary.BigEndian.PutUint32(s[4:8], uint32(d.blockSize))
		return result{data: s[:8]}
	case opReadTOC:
		if !d.cd {
			return checkCondition(senseInvalidOpcode)
		}
		if !present {
			return checkCondition(senseNoMedium)
		}
		return d.readTOC(cdb, s)
	case opGetConfiguration:
		if !d.cd {
			return checkCondition(senseInvalidOpcode)
		}
		return d.getConfiguration(cdb, s)
	case opGetEventStatus:
		if !d.cd {
			return checkCondition(senseInvalidOpcode)
		}
		if cdb[1]&0x01 == 0 {
			return checkCondition(senseInvalidField) // asynchronous notification
		}
		if cdb[4]&0x10 == 0 {
			return checkCondition(senseParamNotSupp) // only the media class
		}
		s[1], s[2], s[3] = 6, 0x04, 0x10
		if present {
			if d.newMedia {
				s[4] = 0x02 // new media
				d.newMedia = false
			}
			s[5] = 0x02 // media present
		}
		return inline(s[:8], be16(cdb[7:9]))
	case opReadDiscInformation:
		if !d.cd {
			return checkCondition(senseInvalidOpcode)
		}
		if !present {
			return checkCondition(senseNoMedium)
		}
		if cdb[1]&0x07 != 0 {
			return checkCondition(senseInvalidField)
		}
		s[1] = 32         // data length: 34 bytes follow the first two
		s[2] = 0x0E       // last session complete, disc finalized
		s[3], s[4] = 1, 1 // first track, sessions
		s[5], s[6] = 1, 1 // first and last track of the last session
		s[7] = 0x20       // unrestricted use
		s[8] = 0x00       // CD-DA or CD-ROM
		for i := 16; i < 24; i++ {
			s[i] = 0xFF // no lead-in or lead-out times
		}
		return inline(s[:34], be16(cdb[7:9]))
	case opReadTrackInfo:
		if !d.cd {
			return checkCondition(senseInvalidOpcode)
		}
		if !present {
			return checkCondition(senseNoMedium)
		}
		s[1] = 46
		s[2], s[3] = 1, 1 // track 1, session 1
		s[5] = 0x04       // data track, uninterrupted
		s[6] = 0x01       // data mode 1
		binary.BigEndian.PutUint32(s[24:28], uint32(d.blocks))
		return inline(s[:48], be16(cdb[7:9]))
	case opGetPerformance:
		if !d.cd {
			return checkCondition(senseInvalidOpcode)
		}
		s[3] = 4 // header only: no descriptors
		return inline(s[:8], 8)
	case opModeSelect10:
		return checkCondition(senseInvalidOpcode)
	}
	return checkCondition(senseInvalidOpcode)
}

// inline returns data truncated to the allocation length.
func inline(data []byte, alloc int) result {
	if alloc < len(data) {
		data = data[:alloc]
	}
	return result{data: data}
}

// Mode pages (protocol.md §3.7.4, MMC and SBC).
var (
	pageErrorRecovery = []byte{0x01, 0x0A, 0x00, 0x05, 0, 0, 0, 0, 0x05, 0, 0, 0}
	pagePower         = []byte{0x1A, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	pageTimeout       = []byte{0x1D, 0x08, 0, 0, 0, 0, 0, 0, 0, 0}
	pageCDCaps        = []byte{0x2A, 0x18,
		0x07, 0x00, // reads CD-R, CD-RW, method 2; writes nothing
		0x71, 0x60, // audio, mode 2 forms; CD-DA commands
		0x29, 0x00, // tray, eject, lock
		0x06, 0xE0, // max read speed 1760 kB/s
		0x00, 0x00, 0x00, 0x00,
		0x06, 0xE0, // current read speed
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
)

// pageFlexible is the flexible disk page of a floppy with blocks sectors.
func pageFlexible(blocks int64) []byte {
	heads, spt, cyl := 2, 18, 80
	if blocks > floppy1440Blocks {
		heads, spt = 8, 32
		cyl = int((blocks + int64(heads*spt) - 1) / int64(heads*spt))
	}
	p := make([]byte, 32)
	p[0], p[1] = 0x05, 0x1E
	binary.BigEndian.PutUint16(p[2:4], 500) // transfer rate, kbit/s
	p[4], p[5] = byte(heads), byte(spt)
	binary.BigEndian.PutUint16(p[6:8], FloppyBlockSize)
	binary.BigEndian.PutUint16(p[8:10], uint16(cyl))
	binary.BigEndian.PutUint16(p[28:30], 300) // rotation rate, rpm
	return p
}

func (d *drive) modeSense10(cdb []byte, s []byte) result {
	page := cdb[2] & 0x3F
	var pages [][]byte
	switch {
	case page == 0x01:
		pages = [][]byte{pageErrorRecovery}
	case page == 0x05 && !d.cd:
		pages = [][]byte{pageFlexible(d.blocks)}
	case page == 0x1A && d.cd:
		pages = [][]byte{pagePower}
	case page == 0x1D && d.cd:
		pages = [][]byte{pageTimeout}
	case page == 0x2A && d.cd:
		pages = [][]byte{pageCDCaps}
	case page == 0x3F && d.cd:
		pages = [][]byte{pageErrorRecovery, pagePower, pageTimeout, pageCDCaps}
	case page == 0x3F:
		pages = [][]byte{pageErrorRecovery, pageFlexible(d.blocks)}
	default:
		return checkCondition(senseInvalidField)
	}
	n := 8
	for _, p := range pages {
		n += copy(s[n:], p)
	}
	binary.BigEndian.PutUint16(s[0:2], uint16(n-2))
	switch {
	case d.cd:
		s[2] = 0x01
	case d.blocks > floppy1440Blocks:
		s[2] = 0x31
	default:
		s[2] = 0x24
	}
	s[3] = 0x80 // write-protected
	return inline(s[:n], be16(cdb[7:9]))
}

// putAddr writes a CD address as an LBA or, with msf, as minute, second,
// frame (LBA 0 is 00:02:00).
func putAddr(b []byte, lba int64, msf bool) {
	if !msf {
		binary.BigEndian.PutUint32(b, uint32(lba))
		return
	}
	f := lba + 150
	b[0], b[1], b[2], b[3] = 0, byte(f/(60*75)), byte(f/75%60), byte(f%75)
}

func (d *drive) readTOC(cdb []byte, s []byte) result {
	msf := cdb[1]&0x02 != 0
	format := cdb[2] & 0x0F
	if format == 0 && cdb[9]>>6 != 0 {
		format = cdb[9] >> 6 // the older place of the format field
	}
	alloc := be16(cdb[7:9])
	switch format {
	case 0:
		track := cdb[6]
		n := 4
		if track <= 1 {
			s[n], s[n+1], s[n+2] = 0, 0x14, 1
			putAddr(s[n+4:n+8], 0, msf)
			n += 8
		} else if track != 0xAA {
			return checkCondition(senseInvalidField)
		}
		s[n], s[n+1], s[n+2] = 0, 0x14, 0xAA
		putAddr(s[n+4:n+8], d.blocks, msf)
		n += 8
		binary.BigEndian.PutUint16(s[0:2], uint16(n-2))
		s[2], s[3] = 1, 1
		return inline(s[:n], alloc)
	case 1:
		s[1], s[2], s[3] = 0x0A, 1, 1
		s[5], s[6] = 0x14, 1
		putAddr(s[8:12], 0, msf)
		return inline(s[:12], alloc)
	}
	return checkCondition(senseInvalidField)
}

// feature is one GET CONFIGURATION feature descriptor.
type feature struct {
	code    uint16
	current bool
	body    []byte // version/persistent/current byte and additional data are added
	version byte
}

func (d *drive) features() []feature {
	present := d.medium != nil
	return []feature{
		{code: 0x0000, current: true, body: []byte{0x00, 0x08, 0x01, 0x00}},                // profile list: CD-ROM, current
		{code: 0x0001, current: true, version: 2, body: []byte{0, 0, 0, 2, 1, 0, 0, 0}},    // core: ATAPI, DBE
		{code: 0x0002, current: true, version: 1, body: []byte{0x02, 0, 0, 0}},             // morphing: OCEvent
		{code: 0x0003, current: true, body: []byte{0x29, 0, 0, 0}},                         // removable: tray, eject, lock
		{code: 0x0010, current: present, body: []byte{0, 0, 0x08, 0x00, 0x00, 0x01, 0, 0}}, // random readable: 2048, blocking 1
		{code: 0x001E, current: present, version: 2, body: []byte{0, 0, 0, 0}},             // CD read
		{code: 0x0100, current: true, body: nil},                                           // power management
		{code: 0x0105, current: true, version: 1, body: []byte{0, 0, 0, 0}},                // timeout
	}
}

func (d *drive) getConfiguration(cdb []byte, s []byte) result {
	rt := cdb[1] & 0x03
	start := uint16(be16(cdb[2:4]))
	if rt == 3 {
		return checkCondition(senseInvalidField)
	}
	n := 8
	for _, f := range d.features() {
		switch {
		case rt == 2 && f.code != start:
			continue
		case f.code < start:
			continue
		case rt == 1 && !f.current:
			continue
		}
		binary.BigEndian.PutUint16(s[n:n+2], f.code)
		s[n+2] = f.version<<2 | 0x02
		if f.current {
			s[n+2] |= 0x01
		}
		s[n+3] = byte(len(f.body))
		copy(s[n+4:], f.body)
		n += 4 + len(f.body)
	}
	binary.BigEndian.PutUint32(s[0:4], uint32(n-4))
	profile := uint16(0)
	if d.medium != nil {
		profile = 0x0008
	}
	binary.BigEndian.PutUint16(s[6:8], profile)
	return inline(s[:n], be16(cdb[7:9]))
}
