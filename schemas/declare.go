package schemas

import (
	"fmt"
	"slices"
)

// EventType is one type of event as the domain that publishes it declares it: the relay
// routes by it, the registry registers its schema, and the pipelines validate against it.
// A new event type is a new declaration in its domain; nothing downstream is edited.
type EventType struct {
	Type      string // CloudEvents type and registry subject, e.g. codexion.ledger.entry.posted.v1
	Aggregate string // what the Kafka key identifies, e.g. ledger.entry: one aggregate's events keep their order
	Topic     string // the Kafka topic it travels on, e.g. codexion.ledger.entries.v1
	Schema    []byte // its JSON Schema (2020-12); the payload must match it
}

// Domain is everything one domain publishes, declared in one place in that domain.
type Domain struct {
	Name   string // e.g. ledger
	Events []EventType
}

// Outgoing is one event a domain hands to the outbox, in the transaction of the change it
// describes. Its type must be declared; the declaration says its aggregate and topic.
type Outgoing struct {
	Type    string // a declared event type
	Key     string // the aggregate's id: the Kafka key
	Source  string // CloudEvents source, e.g. codexion/ledger/acme
	Payload any    // marshalled to JSON
}

// Declarations are the event types of every domain a process runs, by type.
type Declarations struct {
	byType map[string]EventType
	topics []string
}

// maxDeclaredTypes bounds the event types of one process.
const maxDeclaredTypes = 1000

// Declare gathers the domains' declarations. A type declared twice, or with no aggregate,
// topic or schema, is refused: routing must never have to guess.
func Declare(domains ...Domain) (*Declarations, error) {
	d := &Declarations{byType: map[string]EventType{}}
	for _, dom := range domains {
		for _, et := range dom.Events {
			switch {
			case et.Type == "":
				return nil, fmt.Errorf("domain %s declares an event type without a name", dom.Name)
			case et.Aggregate == "" || et.Topic == "" || len(et.Schema) == 0:
				return nil, fmt.Errorf("domain %s: event type %s needs an aggregate, a topic and a schema", dom.Name, et.Type)
			}
			if _, dup := d.byType[et.Type]; dup {
				return nil, fmt.Errorf("domain %s: event type %s is declared twice", dom.Name, et.Type)
			}
			if len(d.byType) == maxDeclaredTypes {
				return nil, fmt.Errorf("more than %d event types declared", maxDeclaredTypes)
			}
			d.byType[et.Type] = et
			if !slices.Contains(d.topics, et.Topic) {
				d.topics = append(d.topics, et.Topic)
			}
		}
	}
	slices.Sort(d.topics)
	return d, nil
}

// Lookup returns the declaration of an event type.
func (d *Declarations) Lookup(eventType string) (EventType, bool) {
	et, ok := d.byType[eventType]
	return et, ok
}

// Topics lists the declared topics, sorted.
func (d *Declarations) Topics() []string { return slices.Clone(d.topics) }

// Set compiles the declared schemas.
func (d *Declarations) Set() (*Set, error) {
	raw := make(map[string][]byte, len(d.byType))
	for typ, et := range d.byType {
		raw[typ] = et.Schema
	}
	return Compile(raw)
}
