//go:build tools

package tools

import _ "github.com/canonical/pebble/cmd/pebble"
