// Package deploy holds what an operator installs Portico with: a systemd
// unit (systemd/), a container image (container/Containerfile) and a
// compose file (compose.yaml). It has no code of its own; its tests check
// those files with the tools made for each (systemd-analyze, BuildKit's
// Dockerfile parser, compose-go) and that the binary builds static.
package deploy
