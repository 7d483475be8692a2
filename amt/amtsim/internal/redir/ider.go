package redir

// IDE-R messages. Every one starts with an 8-byte header: command id, two
// zero bytes, attributes, and a little-endian u32 sequence number counted
// from 0 in each direction.
const (
	IDEROpen          = 0x40 // OPEN_SESSION
	IDEROpenReply     = 0x41
	IDERClose         = 0x42
	IDERCloseReply    = 0x43
	IDERPing          = 0x44
	IDERPong          = 0x45
	IDERReset         = 0x46 // RESET_OCCURRED
	IDERResetReply    = 0x47
	IDERFeatures      = 0x48 // DISABLE_ENABLE_FEATURES
	IDERFeaturesReply = 0x49
	IDERError         = 0x4A // ERROR_OCCURRED
	IDERHeartbeat     = 0x4B
	IDERCommand       = 0x50 // COMMAND_WRITTEN
	IDERCommandEnd    = 0x51 // COMMAND_END_RESPONSE
	IDERGetData       = 0x52 // GET_DATA_FROM_HOST
	IDERDataFromHost  = 0x53
	IDERDataToHost    = 0x54

	IDERHdrLen          = 8
	IDEROpenLen         = 18
	IDEROpenReplyLen    = 30
	IDERResetLen        = 9
	IDERFeaturesLen     = 9
	IDERFeaturesSetLen  = 13
	IDERFeaturesReplyLn = 13
	IDERErrorLen        = 11
	IDERCommandLen      = 28
	IDERCommandEndLen   = 31
	IDERGetDataLen      = 31
	IDERDataToHostLen   = 34

	IDERAttrDMA       = 0x01
	IDERAttrCompleted = 0x02

	IDERMaxBuffer = 8192 // max read and write buffer offered in OPEN_SESSION_REPLY

	FeatGetSupported = 1
	FeatGetState     = 2
	FeatSetState     = 3
	RegEnable        = 0x01
	RegModeMask      = 0x18 // 0x08 next reboot, 0x10 graceful, 0x18 now

	// ERROR_OCCURRED code for a console message with a wrong sequence
	// number (the simulator's choice).
	IDERErrSequence = 0x01
)

// IDERMsg is an IDE-R message of n bytes with the command id filled in and
// the rest zero.
func IDERMsg(id byte, n int) []byte {
	m := make([]byte, n)
	m[0] = id
	return m
}

// Msg is an IDE-R message from the console, with its payload copied.
type Msg struct {
	ID   byte
	Attr byte
	Body []byte // the whole message, header included
}
