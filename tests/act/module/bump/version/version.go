package version

import "golang.org/x/mod/semver"

// Newer reports whether version a is newer than version b.
func Newer(a, b string) bool {
	return semver.Compare(a, b) > 0
}
