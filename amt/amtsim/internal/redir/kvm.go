package redir

// KVM start messages and the RFB greeting (see amtsim's doc for what is
// modelled).
const (
	KVMStart      = 0x40
	KVMStartReply = 0x41
	KVMMsgLen     = 8
	RFBGreeting   = "RFB 003.008\n"
)
