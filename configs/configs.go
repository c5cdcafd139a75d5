package configs

import _ "embed"

// Defaults is the text of defaults.yaml.
//
//go:embed defaults.yaml
var Defaults []byte
