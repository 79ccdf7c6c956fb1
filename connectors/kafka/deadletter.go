package kafka

import (
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// DeadLetterTopic receives every message that a part of Codexion gives up on: an outbox
// row that fails its schema, an event a pipeline cannot decode or validate. The message
// keeps its key, value and headers, and gains the headers below, so it can be replayed.
const DeadLetterTopic = "codexion.dlq.v1"

// Headers of a dead-lettered message.
const (
	HeaderDeadLetterReason = "dlq_reason"         // why it was given up on
	HeaderOriginalTopic    = "dlq_original_topic" // the topic it was read from or bound for
	HeaderDeadLetteredBy   = "dlq_consumer"       // who gave up: the relay, pipeline:<name>, a consumer group
)

// DeadLetter returns m bound for the dead-letter topic, with the reason and who sent it.
// m.Topic is the topic it came from (or, for a producer, was bound for).
func DeadLetter(m kafkago.Message, reason, by string) kafkago.Message {
	headers := append(append(make([]kafkago.Header, 0, len(m.Headers)+3), m.Headers...),
		kafkago.Header{Key: HeaderDeadLetterReason, Value: []byte(reason)},
		kafkago.Header{Key: HeaderOriginalTopic, Value: []byte(m.Topic)},
		kafkago.Header{Key: HeaderDeadLetteredBy, Value: []byte(by)})
	return kafkago.Message{Topic: DeadLetterTopic, Key: m.Key, Value: m.Value, Headers: headers}
}

// DeadLetterWriter writes DeadLetter messages: synchronously, acknowledged by every replica,
// over a transport of its own (see describe for why).
func DeadLetterWriter(brokers []string) *kafkago.Writer {
	return &kafkago.Writer{Addr: kafkago.TCP(brokers...), RequiredAcks: kafkago.RequireAll, BatchTimeout: time.Millisecond,
		Transport: &kafkago.Transport{}}
}
