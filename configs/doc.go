// Package configs holds the project's run configurations as YAML: defaults.yaml (every key with its
// default value, the one place defaults live), one file per dataset × attention variant of the paper's
// grid (for example csca_cars.yaml) and demo.yaml. The defaults are embedded so that a partial
// configuration can be completed anywhere; the key reference is README.md in this directory.
package configs
