package redir

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"time"
)

// The simulated BIOS drives the console's medium over IDE-R the way a
// BIOS or UEFI boot would, one ATAPI command at a time, and checks every
// answer. It reaches the session through a Medium.

// Medium is the BIOS's view of an IDE-R session and of the boot it
// records. The device side implements it; the recording methods apply
// only while the boot is still the device's to record.
type Medium interface {
	// Send fills in the sequence number and sends an IDE-R message.
	Send(msg []byte) error
	// Wait returns the console's next message, keeping the session alive
	// meanwhile. It fails with ErrSessionEnded, ErrHostReset (a new boot
	// was asked for or this one ended) or, after timeout, ErrTimeout.
	Wait(timeout time.Duration) (Msg, error)
	// InjectReset reports whether a queued injected reset applies now
	// (the first data of a READ).
	InjectReset() bool
	// Commands records the number of ATAPI commands issued so far.
	Commands(n int)
	// Read records one READ and the bytes read so far.
	Read(r BlockRead, bytesRead int64)
	// BootImage records the SHA-256 of the boot image.
	BootImage(sum string)
}

// BlockRead is one READ(10) or READ(12) of the simulated BIOS.
type BlockRead struct {
	LBA    uint64
	Blocks int
	SHA256 string // hex SHA-256 of the data returned
}

const (
	ataPacket      = 0xA0 // ATA PACKET command; the only one forwarded
	driveCD        = 0xB0 // slave
	driveFloppy    = 0xA0 // master
	cdBlock        = 2048
	floppyBlock    = 512
	biosReadChunk  = 64 << 10
	biosTimeout    = 30 * time.Second
	defaultReadLim = 1 << 20
	resetMask      = 0x01 // RESET_OCCURRED reset mask (the simulator's choice)

	scsiTestUnitReady   = 0x00
	scsiReadFormatCaps  = 0x23
	scsiReadCapacity    = 0x25
	scsiRead10          = 0x28
	scsiWrite10         = 0x2A
	scsiReadTOC         = 0x43
	scsiGetConfig       = 0x46
	scsiModeSense10     = 0x5A
	scsiRead12          = 0xA8
	scsiUnknown         = 0xFF
	modePageCapabilites = 0x2A
	elToritoRecordLBA   = 17
	bootIndicator       = 0x88
)

// sense is a SCSI sense key, additional sense code and qualifier.
type sense [3]byte

var (
	senseGood           = sense{0, 0, 0}
	senseUnitAttention  = sense{0x06, 0x28, 0x00}
	senseWriteProtected = sense{0x07, 0x27, 0x00}
	senseInvalidOpcode  = sense{0x05, 0x20, 0x00}
	// ErrSessionEnded: the IDE-R session ended during the boot.
	ErrSessionEnded = errors.New("IDE-R session ended")
	// ErrHostReset: the host was reset during the boot.
	ErrHostReset = errors.New("host reset during the IDE-R boot")
	// ErrTimeout: the console did not answer a command in time.
	ErrTimeout = fmt.Errorf("the console did not answer within %v", biosTimeout)
	// ErrInjectedReset: an injected reset ended the boot; the device side
	// resets the connection.
	ErrInjectedReset = errors.New("connection reset (injected fault)")
)

func (s sense) String() string { return fmt.Sprintf("%02X/%02X/%02X", s[0], s[1], s[2]) }

// bios is one run of the simulated BIOS on an IDE-R session.
type bios struct {
	m         Medium
	cd        bool
	drive     byte
	blockSize int
	readLimit int64
	capacity  uint64 // blocks
	commands  int
	bytesRead int64
}

// Boot boots from the session's medium, a CD or a floppy, reading it after
// the boot image up to readLimit bytes (0: 1 MiB; negative: the whole
// medium), and returns why the boot failed, nil when it succeeded.
func Boot(m Medium, cd bool, readLimit int64) error {
	b := &bios{m: m, cd: cd, drive: driveFloppy, blockSize: floppyBlock, readLimit: readLimit}
	if cd {
		b.drive, b.blockSize = driveCD, cdBlock
	}
	return b.boot()
}

// boot is the BIOS sequence for the medium.
func (b *bios) boot() error {
	m := IDERMsg(IDERReset, IDERResetLen)
	m[8] = resetMask
	if err := b.m.Send(m); err != nil {
		return ErrSessionEnded
	}
	for {
		m, err := b.m.Wait(biosTimeout)
		if err != nil {
			return fmt.Errorf("waiting for RESET_OCCURRED_RESPONSE: %w", err)
		}
		if m.ID == IDERResetReply {
			break
		}
		// Answers to commands abandoned by the reset are dropped.
	}
	if err := b.testUnitReady(); err != nil {
		return err
	}
	if err := b.readCapacity(); err != nil {
		return err
	}
	if b.cd {
		return b.bootCD()
	}
	return b.bootFloppy()
}

func (b *bios) testUnitReady() error {
	for i := 0; ; i++ {
		sn, _, err := b.command(cdb(scsiTestUnitReady), 0, nil, false)
		if err != nil {
			return fmt.Errorf("TEST UNIT READY: %w", err)
		}
		switch {
		case sn == senseGood:
			return nil
		case sn == senseUnitAttention && i == 0:
			continue // medium may have changed: once
		default:
			return fmt.Errorf("TEST UNIT READY: CHECK CONDITION %v", sn)
		}
	}
}

func (b *bios) readCapacity() error {
	data, err := b.dataCommand("READ CAPACITY(10)", cdb(scsiReadCapacity), 8)
	if err != nil {
		return err
	}
	if len(data) != 8 {
		return fmt.Errorf("READ CAPACITY(10): %d bytes, want 8", len(data))
	}
	last := binary.BigEndian.Uint32(data[0:4])
	if bl := binary.BigEndian.Uint32(data[4:8]); bl != uint32(b.blockSize) {
		return fmt.Errorf("READ CAPACITY(10): block length %d, want %d", bl, b.blockSize)
	}
	b.capacity = uint64(last) + 1
	return nil
}

func (b *bios) bootCD() error {
	// Device identification a BIOS does before booting from a CD.
	toc, err := b.dataCommand("READ TOC", cdbAlloc(scsiReadTOC, 0, 0x0324), 0x0324)
	if err != nil {
		return err
	}
	if len(toc) < 4 || toc[2] != 1 || toc[3] < toc[2] {
		return fmt.Errorf("READ TOC: malformed TOC % X", toc)
	}
	ms, err := b.dataCommand("MODE SENSE(10)", cdbAlloc(scsiModeSense10, modePageCapabilites, 0x0200), 0x0200)
	if err != nil {
		return err
	}
	if len(ms) < 10 || ms[8]&0x3F != modePageCapabilites {
		return fmt.Errorf("MODE SENSE(10) page 0x2A: no capabilities page in % X", ms)
	}
	gc, err := b.dataCommand("GET CONFIGURATION", cdbAlloc(scsiGetConfig, 0, 0x0200), 0x0200)
	if err != nil {
		return err
	}
	if len(gc) < 8 || binary.BigEndian.Uint16(gc[6:8]) != 0x0008 {
		return errors.New("GET CONFIGURATION: current profile is not CD-ROM (0x0008)")
	}

	// El Torito: boot record volume descriptor, boot catalog, boot image.
	if b.capacity <= elToritoRecordLBA {
		return fmt.Errorf("medium of %d blocks has no El Torito boot record", b.capacity)
	}
	brvd := make([]byte, cdBlock)
	if err := b.read(elToritoRecordLBA, 1, false, brvd, nil); err != nil {
		return err
	}
	if brvd[0] != 0 || string(brvd[1:6]) != "CD001" || brvd[6] != 1 ||
		!bytes.HasPrefix(brvd[7:], []byte("EL TORITO SPECIFICATION")) {
		return errors.New("sector 17 is no El Torito boot record volume descriptor")
	}
	catalog := uint64(binary.LittleEndian.Uint32(brvd[0x47:0x4B]))
	if catalog >= b.capacity {
		return fmt.Errorf("boot catalog at LBA %d is beyond the medium", catalog)
	}
	cat := make([]byte, cdBlock)
	if err := b.read(catalog, 1, false, cat, nil); err != nil {
		return err
	}
	if cat[0] != 0x01 || cat[0x1E] != 0x55 || cat[0x1F] != 0xAA {
		return errors.New("boot catalog: no validation entry")
	}
	entry := cat[32:64]
	if entry[0] != bootIndicator {
		return errors.New("boot catalog: initial entry is not bootable")
	}
	count := int(binary.LittleEndian.Uint16(entry[6:8]))
	rba := uint64(binary.LittleEndian.Uint32(entry[8:12]))
	size := count * 512
	if size == 0 {
		size = cdBlock
	}
	blocks := (size + cdBlock - 1) / cdBlock
	if rba+uint64(blocks) > b.capacity {
		return fmt.Errorf("boot image at LBA %d (%d blocks) is beyond the medium", rba, blocks)
	}
	img := &limitedHash{h: sha256.New(), left: size}
	if err := b.readRange(rba, uint64(blocks), img, 0); err != nil {
		return err
	}
	b.setBootImage(img.sum())

	// A CD refuses writes; an unknown command is refused too.
	if err := b.expectSense("WRITE(10)", cdbRW(scsiWrite10, 0, 1), senseWriteProtected); err != nil {
		return err
	}
	if err := b.expectSense("opcode 0xFF", cdb(scsiUnknown), senseInvalidOpcode); err != nil {
		return err
	}
	return b.readMore()
}

func (b *bios) bootFloppy() error {
	fc, err := b.dataCommand("READ FORMAT CAPACITIES", cdbAlloc(scsiReadFormatCaps, 0, 0xFC), 0xFC)
	if err != nil {
		return err
	}
	if len(fc) < 12 || fc[3] < 8 || fc[8]&0x03 != 0x02 || uint32(fc[9])<<16|uint32(fc[10])<<8|uint32(fc[11]) != floppyBlock {
		return fmt.Errorf("READ FORMAT CAPACITIES: unexpected descriptor % X", fc)
	}
	sector := make([]byte, floppyBlock)
	if err := b.read(0, 1, false, sector, nil); err != nil {
		return err
	}
	if sector[510] != 0x55 || sector[511] != 0xAA {
		return errors.New("boot sector without the 0x55AA signature")
	}
	sum := sha256.Sum256(sector)
	b.setBootImage(hex.EncodeToString(sum[:]))
	if err := b.expectSense("opcode 0xFF", cdb(scsiUnknown), senseInvalidOpcode); err != nil {
		return err
	}
	return b.readMore()
}

// readMore reads the medium from its start up to IDERReadLimit, the way
// a boot loader goes on loading, alternating READ(10) and READ(12).
func (b *bios) readMore() error {
	limit := b.readLimit
	blocks := b.capacity
	switch {
	case limit == 0:
		limit = defaultReadLim
		fallthrough
	case limit > 0:
		blocks = min(blocks, (uint64(limit)+uint64(b.blockSize)-1)/uint64(b.blockSize))
	}
	return b.readRange(0, blocks, nil, 1)
}

// readRange reads blocks from lba in chunks of up to 64 KiB. With alt
// non-zero the chunks alternate READ(10) and READ(12).
func (b *bios) readRange(lba, blocks uint64, img *limitedHash, alt int) error {
	per := uint64(biosReadChunk / b.blockSize)
	for i := 0; blocks > 0; i++ {
		n := min(per, blocks)
		if err := b.read(lba, int(n), alt != 0 && i%2 == 1, nil, img); err != nil {
			return err
		}
		lba += n
		blocks -= n
	}
	return nil
}

func (b *bios) setBootImage(sum string) { b.m.BootImage(sum) }

// limitedHash hashes the first left bytes written to it.
type limitedHash struct {
	h    hash.Hash
	left int
}

func (l *limitedHash) write(p []byte) {
	if l.left <= 0 {
		return
	}
	p = p[:min(len(p), l.left)]
	l.h.Write(p)
	l.left -= len(p)
}

func (l *limitedHash) sum() string { return hex.EncodeToString(l.h.Sum(nil)) }

// read issues one READ(10) or READ(12), checks that exactly the blocks
// asked for came back and records the read. keep, if not nil, receives the
// data.
func (b *bios) read(lba uint64, blocks int, read12 bool, keep []byte, img *limitedHash) error {
	name := "READ(10)"
	c := cdbRW(scsiRead10, uint32(lba), blocks)
	if read12 {
		name = "READ(12)"
		c = cdb(scsiRead12)
		binary.BigEndian.PutUint32(c[2:6], uint32(lba))
		binary.BigEndian.PutUint32(c[6:10], uint32(blocks))
	}
	want := blocks * b.blockSize
	h := sha256.New()
	off := 0
	sn, n, err := b.command(c, want, func(p []byte) {
		h.Write(p)
		if keep != nil {
			copy(keep[off:], p)
		}
		off += len(p)
		if img != nil {
			img.write(p)
		}
	}, true)
	if err != nil {
		return fmt.Errorf("%s of LBA %d: %w", name, lba, err)
	}
	if sn != senseGood {
		return fmt.Errorf("%s of LBA %d: CHECK CONDITION %v", name, lba, sn)
	}
	if n != want {
		return fmt.Errorf("%s of LBA %d: %d bytes, want %d", name, lba, n, want)
	}
	b.bytesRead += int64(n)
	b.m.Read(BlockRead{LBA: lba, Blocks: blocks, SHA256: hex.EncodeToString(h.Sum(nil))}, b.bytesRead)
	return nil
}

// dataCommand runs a command returning at most alloc bytes, which must
// succeed.
func (b *bios) dataCommand(name string, c [12]byte, alloc int) ([]byte, error) {
	var data []byte
	sn, _, err := b.command(c, alloc, func(p []byte) { data = append(data, p...) }, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if sn != senseGood {
		return nil, fmt.Errorf("%s: CHECK CONDITION %v", name, sn)
	}
	return data, nil
}

// expectSense runs a command that must be refused with the given sense.
func (b *bios) expectSense(name string, c [12]byte, want sense) error {
	sn, n, err := b.command(c, 0, nil, false)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if sn != want || n != 0 {
		return fmt.Errorf("%s: sense %v, want %v", name, sn, want)
	}
	return nil
}

// command sends COMMAND_WRITTEN and collects the answer: DATA_TO_HOST
// chunks (given to sink) up to the one marked completed, or
// COMMAND_END_RESPONSE. It returns the sense and the number of data bytes.
func (b *bios) command(c [12]byte, alloc int, sink func([]byte), isRead bool) (sense, int, error) {
	m := IDERMsg(IDERCommand, IDERCommandLen)
	binary.LittleEndian.PutUint16(m[12:14], uint16(min(alloc, 0xFFFE)))
	m[14] = b.drive
	m[15] = ataPacket
	copy(m[16:28], c[:])
	b.commands++
	b.m.Commands(b.commands)
	if err := b.m.Send(m); err != nil {
		return sense{}, 0, ErrSessionEnded
	}
	n := 0
	for {
		msg, err := b.m.Wait(biosTimeout)
		if err != nil {
			return sense{}, 0, err
		}
		body := msg.Body
		switch msg.ID {
		case IDERCommandEnd:
			if msg.Attr&IDERAttrCompleted == 0 {
				return sense{}, 0, errors.New("COMMAND_END_RESPONSE without the completed attribute")
			}
			if body[26] != b.drive {
				return sense{}, 0, fmt.Errorf("COMMAND_END_RESPONSE for drive 0x%02X, want 0x%02X", body[26], b.drive)
			}
			sn := sense{body[28], body[29], body[30]}
			if (body[27]&0x01 != 0) != (sn[0] != 0) {
				return sense{}, 0, fmt.Errorf("COMMAND_END_RESPONSE status 0x%02X does not match sense %v", body[27], sn)
			}
			return sn, n, nil
		case IDERDataToHost:
			l := int(binary.LittleEndian.Uint16(body[9:11]))
			switch {
			case msg.Attr&IDERAttrDMA != 0:
				return sense{}, 0, errors.New("DATA_TO_HOST in DMA mode for a PIO command")
			case int(binary.LittleEndian.Uint16(body[16:18])) != l:
				return sense{}, 0, fmt.Errorf("DATA_TO_HOST byte count %d for %d bytes", binary.LittleEndian.Uint16(body[16:18]), l)
			case body[18] != b.drive:
				return sense{}, 0, fmt.Errorf("DATA_TO_HOST for drive 0x%02X, want 0x%02X", body[18], b.drive)
			case n+l > alloc:
				return sense{}, 0, fmt.Errorf("DATA_TO_HOST: %d bytes, more than the %d asked for", n+l, alloc)
			}
			if isRead && n == 0 && b.m.InjectReset() {
				return sense{}, 0, ErrInjectedReset // the device side resets the connection
			}
			if sink != nil && l > 0 {
				sink(body[IDERDataToHostLen:])
			}
			n += l
			if msg.Attr&IDERAttrCompleted != 0 {
				if body[27]&0x01 != 0 || body[28] != 0 {
					return sense{}, 0, fmt.Errorf("final DATA_TO_HOST with error status 0x%02X sense %02X", body[27], body[28])
				}
				if body[26] != b.drive {
					return sense{}, 0, fmt.Errorf("final DATA_TO_HOST for drive 0x%02X, want 0x%02X", body[26], b.drive)
				}
				return senseGood, n, nil
			}
		case IDERGetData:
			return sense{}, 0, errors.New("GET_DATA_FROM_HOST for a command that sends no data")
		default:
			return sense{}, 0, fmt.Errorf("unexpected message 0x%02X during a command", msg.ID)
		}
	}
}

func cdb(op byte) [12]byte { return [12]byte{op} }

// cdbAlloc is a CDB with a page or format byte at [2] and the allocation
// length at [7..8].
func cdbAlloc(op, b2 byte, alloc uint16) [12]byte {
	c := cdb(op)
	c[2] = b2
	binary.BigEndian.PutUint16(c[7:9], alloc)
	return c
}

// cdbRW is a READ(10)/WRITE(10) CDB.
func cdbRW(op byte, lba uint32, blocks int) [12]byte {
	c := cdb(op)
	binary.BigEndian.PutUint32(c[2:6], lba)
	binary.BigEndian.PutUint16(c[7:9], uint16(blocks))
	return c
}
