package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// OwnSendPrefix starts the metadata Corral's sender attaches to every message
// it sends on Messenger ("corral:<reply id>:<piece>"). Messenger hands the
// metadata back in the echo of the message, which is how the gateway tells
// Corral's own sends from messages a person sent from the Page.
const OwnSendPrefix = "corral:"

// maxMetadata is the longest metadata Messenger accepts, in characters.
const maxMetadata = 1000

// OwnSendMetadata returns the metadata that marks piece (e.g. "0.1") of the
// reply replyID as sent by Corral, cut to the 1000 characters Messenger
// accepts.
func OwnSendMetadata(replyID, piece string) string {
	s := OwnSendPrefix + replyID + ":" + piece
	if len(s) <= maxMetadata {
		return s
	}
	s = s[:maxMetadata]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// FromCorral reports whether e is the echo of a message Corral itself sent
// (its metadata starts with OwnSendPrefix). WhatsApp echoes (smb_message_echoes)
// are never Corral's: the Cloud API does not echo what it sends.
func (e BusinessEvent) FromCorral() bool {
	return e.Kind == BusinessEcho && strings.HasPrefix(e.Metadata, OwnSendPrefix)
}

// businessActions maps event kinds to their proto action.
var businessActions = map[BusinessKind]corralv1.BusinessAction{
	BusinessEcho:          corralv1.BusinessAction_BUSINESS_ACTION_HUMAN_MESSAGE,
	BusinessPassThread:    corralv1.BusinessAction_BUSINESS_ACTION_THREAD_PASSED,
	BusinessTakeThread:    corralv1.BusinessAction_BUSINESS_ACTION_THREAD_TAKEN,
	BusinessRequestThread: corralv1.BusinessAction_BUSINESS_ACTION_THREAD_REQUESTED,
}

// ChatMessage returns e as the ChatMessage of kind BUSINESS_REPLY the
// gateway publishes on the conversation's CHAT_IN subject. An event without
// a message id of its own (a handover) gets a synthetic one built from what
// it carries, so the same event delivered again gets the same id. The caller
// sets ReceivedTime.
func (e BusinessEvent) ChatMessage() *corralv1.ChatMessage {
	cm := &corralv1.ChatMessage{
		Platform:          e.Platform,
		ChannelId:         e.ChannelID,
		UserId:            e.UserID,
		PlatformMessageId: e.MessageID,
		Kind:              corralv1.MessageKind_MESSAGE_KIND_BUSINESS_REPLY,
		Text:              e.Text,
		Business: &corralv1.BusinessReply{
			Action:   businessActions[e.Kind],
			AppId:    e.AppID,
			Metadata: e.Metadata,
		},
	}
	if !e.Time.IsZero() {
		cm.SentTime = timestamppb.New(e.Time)
	}
	if cm.PlatformMessageId == "" {
		h := sha256.New()
		for _, p := range []string{string(e.Kind), e.UserID, e.AppID, e.Metadata, e.Text} {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
		cm.PlatformMessageId = "business:" + string(e.Kind) + ":" + strconv.FormatInt(e.Time.UnixMilli(), 10) +
			":" + hex.EncodeToString(h.Sum(nil)[:8])
	}
	return cm
}
