package kafka

import "github.com/reftrail/reftrail/internal/config"

// Topic names reftrail uses by default, a contract with subscribers and
// operators (docs/ARCHITECTURE.md, "Topics").
const (
	// DefaultRawTopic receives every accepted webhook body unchanged (RAW_TOPIC).
	DefaultRawTopic = "meta.webhooks.raw"
	// DefaultEventsTopic carries reftrail.ReferralEvent records (EVENTS_TOPIC).
	DefaultEventsTopic = "reftrail.events.v1"
	// DefaultDLQTopic keeps raw records that could not be decoded (DLQ_TOPIC).
	DefaultDLQTopic = "meta.webhooks.dlq"
	// DefaultDeletionTopic records Meta's data deletion requests and their
	// status, keyed by confirmation code (DELETION_TOPIC).
	DefaultDeletionTopic = "reftrail.deletion.requests"
)

// RawTopicFromEnv reads RAW_TOPIC.
func RawTopicFromEnv(env *config.Env) string {
	return env.String("RAW_TOPIC", DefaultRawTopic)
}

// EventsTopicFromEnv reads EVENTS_TOPIC.
func EventsTopicFromEnv(env *config.Env) string {
	return env.String("EVENTS_TOPIC", DefaultEventsTopic)
}

// DLQTopicFromEnv reads DLQ_TOPIC.
func DLQTopicFromEnv(env *config.Env) string {
	return env.String("DLQ_TOPIC", DefaultDLQTopic)
}

// DeletionTopicFromEnv reads DELETION_TOPIC.
func DeletionTopicFromEnv(env *config.Env) string {
	return env.String("DELETION_TOPIC", DefaultDeletionTopic)
}

// TopicSetting is a topic a service was configured with and the variable
// that named it.
type TopicSetting struct {
	Variable, Topic string
}

// RequireDistinctTopics records an error in env when two settings name the same
// topic: a service that consumed what it produces would loop or mix records.
func RequireDistinctTopics(env *config.Env, settings ...TopicSetting) {
	for i, s := range settings {
		for _, earlier := range settings[:i] {
			if s.Topic == earlier.Topic {
				env.Fail(s.Variable, "must differ from %s", earlier.Variable)
				return
			}
		}
	}
}
