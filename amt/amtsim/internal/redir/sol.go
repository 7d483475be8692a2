package redir

// Serial-over-LAN messages: an 8-byte header (id, two zero bytes, a zero
// attribute byte, a little-endian u32 sequence number) and fixed fields.
const (
	SOLStart         = 0x20
	SOLStartReply    = 0x21
	SOLEnd           = 0x22
	SOLEndReply      = 0x23
	SOLPing          = 0x24
	SOLPong          = 0x25
	SOLSettings      = 0x27
	SOLDataToHost    = 0x28
	SOLControls      = 0x29
	SOLDataFromHost  = 0x2A
	SOLHeartbeat     = 0x2B
	SOLStartLen      = 24
	SOLStartReplyLen = 23
	SOLSettingsLen   = 14
	SOLControlsLen   = 10
	SOLDataHdrLen    = 10
	MaxSOLData       = 8192
)
