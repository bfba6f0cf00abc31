// Package config is the configuration of varco-admin, the central admin
// server: one optional TOML file read once at start, over documented
// defaults, with every key overridable from the environment.
//
// The order is [DefaultConfig], then the file, then the environment: the
// environment wins. Every key is read from the variable VARCO_ADMIN_
// followed by its TOML path upper-cased with "." turned into "_":
//
//	listen          VARCO_ADMIN_LISTEN
//	data_dir        VARCO_ADMIN_DATA_DIR
//	database.driver VARCO_ADMIN_DATABASE_DRIVER
//	database.dsn    VARCO_ADMIN_DATABASE_DSN
//	tls.cert        VARCO_ADMIN_TLS_CERT
//	log.level       VARCO_ADMIN_LOG_LEVEL
//	retention       VARCO_ADMIN_RETENTION
//	mqtt.listen     VARCO_ADMIN_MQTT_LISTEN
//	mqtt.hosts      VARCO_ADMIN_MQTT_HOSTS (comma-separated)
//
// and so on for each key of [Config] ([EnvVars] lists them all). The
// mapping is computed from the struct's toml tags, so a new key is covered
// without touching this package's environment code. A variable that is set
// but empty sets the key to empty (metrics_listen="" disables metrics).
//
// Mistakes are errors, never silent defaults: an unknown key in the file,
// an unknown VARCO_ADMIN_ variable (except [EnvPassword], which is not a
// configuration key) and a value that does not parse. Every error names
// where the value came from and the key, for example
//
//	/etc/varco/varco-admin.toml: database.driver: "mysql": must be "sqlite" or "postgres"
//	environment VARCO_ADMIN_LOG_JSON: log.json: want true or false
//
// Validate reports every problem at once. Values from the environment are
// never repeated in errors (a DSN may hold a password).
//
// Durations (retention, session_ttl) are strings in Go syntax ("12h",
// "90m") or a whole number of days ("365d"); a bare number other than 0 is
// refused rather than read as nanoseconds.
//
// The package only describes and checks settings; it opens no socket or
// database. Validate does look at the file system for the TLS certificate
// and key, so that a missing file fails at start with its key named.
package config
