package store

import (
	"strconv"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// keys builds every Redis key the store uses; doc.go lists them. Ids the
// store makes itself hold only [a-z0-9_]; ids from platforms are escaped
// with corralv1.EscapeToken, so no id can reach into another key.
type keys struct{ prefix string }

func (k keys) persona(id string) string  { return k.prefix + "persona:" + id }
func (k keys) versions(id string) string { return k.prefix + "persona:" + id + ":v:" }
func (k keys) version(id string, n uint32) string {
	return k.versions(id) + strconv.FormatUint(uint64(n), 10)
}
func (k keys) usage(id string) string                { return k.prefix + "persona:" + id + ":usage" }
func (k keys) refs(id string) string                 { return k.prefix + "persona:" + id + ":refs" }
func (k keys) handle(handleKey string) string        { return k.prefix + "handle:" + handleKey }
func (k keys) directory() string                     { return k.prefix + "directory" }
func (k keys) creators() string                      { return k.prefix + "creators" }
func (k keys) creator(id string) string              { return k.prefix + "creator:" + id }
func (k keys) creatorPersonas(id string) string      { return k.prefix + "creator:" + id + ":personas" }
func (k keys) creatorTokens(id string) string        { return k.prefix + "creator:" + id + ":tokens" }
func (k keys) token(id string) string                { return k.prefix + "token:" + id }
func (k keys) channels() string                      { return k.prefix + "channels" }
func (k keys) channel(ref string) string             { return k.prefix + "channel:" + ref }
func (k keys) choice(c corralv1.Conversation) string { return k.prefix + "choice:" + c.Key() }
func (k keys) history(c corralv1.Conversation) string {
	return k.prefix + "history:" + c.Key()
}

// channelRef names a channel inside keys and sets: "<platform>.<id>" with
// the id escaped.
func channelRef(p corralv1.Platform, id string) string {
	return corralv1.PlatformToken(p) + "." + corralv1.EscapeToken(id)
}
