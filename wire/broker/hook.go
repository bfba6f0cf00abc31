package broker

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/varco-access/varco/wire/sitepki"
)

// hook is the broker's authentication and ACL: the client is who its
// verified certificate says, and may touch only what Allow grants.
type hook struct {
	mqtt.HookBase
	site  string
	admit func(identity string) bool // nil: everyone
	srv   *mqtt.Server
	log   *slog.Logger
}

var _ mqtt.Hook = (*hook)(nil)

// ID names the hook in mochi's logs.
func (h *hook) ID() string { return "varco-auth-acl" }

// Provides lists the events the hook handles.
func (h *hook) Provides(b byte) bool {
	return b == mqtt.OnConnect || b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

// errRefused ends a connection the hook has already answered with a
// CONNACK.
var errRefused = errors.New("broker: connection refused")

// identity returns the verified identity of cl's TLS connection.
func identity(cl *mqtt.Client) (string, error) {
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return "", sitepki.ErrNoIdentity
	}
	id, err := sitepki.Identity(tc.ConnectionState())
	if err != nil {
		return "", err
	}
	if _, _, err := sitepki.ParseIdentity(id); err != nil {
		return "", err
	}
	return id, nil
}

// OnConnect runs before mochi authenticates the client and before any
// existing session with the same client id is taken over. It takes the
// MQTT user name from the verified certificate (the CONNECT's user name
// and password are ignored, like Mosquitto's use_identity_as_username),
// makes it the client id too (like use_username_as_clientid: a door
// cannot take over another door's session by sending its client id), and
// checks that the Will may be published. A refusal is answered with a
// CONNACK "not authorized".
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	id, err := identity(cl)
	if err != nil {
		h.log.Warn("broker: refused a client without a valid certificate identity", "remote", cl.Net.Remote, "error", err)
		return h.refuse(cl)
	}
	if h.admit != nil && !h.admit(id) {
		h.log.Warn("broker: refused an identity the site does not admit", "identity", id, "remote", cl.Net.Remote)
		return h.refuse(cl)
	}
	if claimed := pk.Connect.Username; len(claimed) > 0 && !bytes.Equal(claimed, []byte(id)) {
		h.log.Info("broker: CONNECT user name ignored: the certificate decides", "identity", id, "username", string(claimed), "remote", cl.Net.Remote)
	}
	cl.Properties.Username = []byte(id)
	if cl.ID != id {
		h.log.Info("broker: client id replaced by the certificate identity", "identity", id, "client", pk.Connect.ClientIdentifier, "remote", cl.Net.Remote)
		if cl.Properties.ProtocolVersion >= 5 && pk.Connect.ClientIdentifier == "" {
			cl.Properties.Props.AssignedClientID = id // [MQTT-3.2.2-16]
		}
		cl.ID = id
	}
	if pk.Connect.WillFlag && !Allow(h.site, id, pk.Connect.WillTopic, true) {
		h.log.Warn("broker: refused a Will on a topic the client may not publish to", "identity", id, "topic", pk.Connect.WillTopic, "remote", cl.Net.Remote)
		return h.refuse(cl)
	}
	h.log.Debug("broker: client authenticated", "identity", id, "client", cl.ID, "remote", cl.Net.Remote)
	return nil
}

// refuse answers CONNECT with "not authorized": 0x87 in MQTT 5; in MQTT
// 3.1.1 return code 5, which mochi maps only from 0x86 (0x87 would go out
// unmapped, and paho 1.5 reads an unknown return code as success).
func (h *hook) refuse(cl *mqtt.Client) error {
	code := packets.ErrNotAuthorized
	if cl.Properties.ProtocolVersion < 5 {
		code = packets.ErrBadUsernameOrPassword
	}
	if err := h.srv.SendConnack(cl, code, false, nil); err != nil {
		return err
	}
	return errRefused
}

// OnConnectAuthenticate accepts exactly the clients OnConnect accepted:
// those whose user name and client id are their verified certificate
// identity.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	id, err := identity(cl)
	return err == nil && string(cl.Properties.Username) == id && cl.ID == id
}

// OnACLCheck applies Allow. mochi calls it for every PUBLISH a client
// sends (write), for every SUBSCRIBE filter, and again for every message
// it delivers, retained ones included (read).
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	id := string(cl.Properties.Username)
	if Allow(h.site, id, topic, write) {
		return true
	}
	h.log.Warn("broker: ACL denied", "identity", id, "client", cl.ID, "topic", topic, "write", write)
	return false
}
