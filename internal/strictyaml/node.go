package strictyaml

import "go.yaml.in/yaml/v3"

// Describe names what a node holds, for a message: "a mapping", "a list",
// "an alias", "nothing" for a null, or a scalar's value as quote writes it
// (strconv.Quote, or one that also shortens a long value).
func Describe(n *yaml.Node, quote func(string) string) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if IsNull(n) {
		return "nothing"
	}
	return quote(n.Value)
}

// IsNull reports whether n is empty or a null ("~", "null", or nothing at
// all after the key), which leaves the Go value as it was.
func IsNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}
