// Package mqtttest runs real MQTT brokers for tests of both sides of the
// contract, behind one small interface (Broker):
//
//   - StartEmbedded: the broker varco-admin embeds (package wire/broker,
//     mochi-mqtt), in the test process;
//   - StartMosquitto: Debian's mosquitto as a child process, configured
//     with the same rules (broker.MosquittoACL, require_certificate,
//     use_identity_as_username, use_username_as_clientid).
//
// Both listen with TLS on 127.0.0.1 and a free port, with a new site CA
// (wire/sitepki) whose client certificates ClientTLS issues on demand, and
// stop when the test ends; when the test failed, the end of the broker's
// log is shown.
//
// It lives in wire/ rather than admin/ because door tests (controller/)
// must run against the embedded broker too, and controller/ may not import
// admin/.
//
// # Use
//
// A test that talks MQTT runs against both brokers:
//
//	func TestSync(t *testing.T) {
//		mqtttest.Each(t, "demo", []string{"door-1"}, func(t *testing.T, b mqtttest.Broker) {
//			door := mqtttest.Connect(t, mqtttest.ClientOptions(b, sitepki.DoorIdentity("door-1")))
//			admin := mqtttest.Connect(t, mqtttest.ClientOptions(b, sitepki.AdminIdentity))
//			...
//		})
//	}
//
// A door daemon under test gets b.URL(), b.CA().CertPEM() and a
// certificate from b.CA().ClientCert (or b.ClientTLS for a paho client).
//
// Mosquitto's ACL is written when it starts and names only "admin" and,
// for every door id given, "door:<id>" and "station:<id>": pass every
// door id the test uses. Other identities can connect to Mosquitto but
// may do nothing; the embedded broker needs no list.
//
// Without the mosquitto binary (apt-get install -y mosquitto; the
// Makefile's test target installs it) StartMosquitto skips the test,
// except under CI=true, where it fails it.
//
// The conformance test of this package runs the same authentication,
// ACL, retained-message and Last Will cases against both brokers.
package mqtttest
