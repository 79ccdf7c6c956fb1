// Package kafka is Codexion's edge to a Kafka cluster through segmentio/kafka-go. The
// same code talks to a production cluster and to the embedded broker of the dev stack.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/codexion/codexion/platform"
)

// Cluster names the brokers to bootstrap from.
type Cluster struct {
	Brokers []string
}

// Metadata is what a health check learns from the cluster.
type Metadata struct {
	ClusterID string
	Brokers   int
}

// Describe connects to the first reachable bootstrap broker and reads cluster metadata.
func (c Cluster) Describe(ctx context.Context) (Metadata, error) {
	if len(c.Brokers) == 0 {
		return Metadata{}, platform.Invalid("kafka.brokers is empty")
	}
	var errs []error
	for _, b := range c.Brokers {
		md, err := describe(ctx, b)
		if err == nil {
			return md, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", b, err))
	}
	return Metadata{}, platform.Unavailable(errors.Join(errs...), "no Kafka broker answers (%s)", strings.Join(c.Brokers, ", "))
}

func describe(ctx context.Context, broker string) (Metadata, error) {
	// A transport of its own: the shared default one caches cluster metadata per address,
	// which would hide a broker that restarted on the same address as a new cluster.
	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(broker), Transport: tr}
	resp, err := client.Metadata(ctx, &kafkago.MetadataRequest{Addr: kafkago.TCP(broker), Topics: []string{}})
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) {
			return Metadata{}, ne
		}
		return Metadata{}, err
	}
	return Metadata{ClusterID: resp.ClusterID, Brokers: len(resp.Brokers)}, nil
}

// Check is the readiness check.
func (c Cluster) Check(ctx context.Context) error {
	md, err := c.Describe(ctx)
	if err != nil {
		return err
	}
	if md.Brokers == 0 {
		return fmt.Errorf("cluster %s lists no brokers", md.ClusterID)
	}
	return nil
}

// EnsureTopics creates the topics that do not exist yet.
func EnsureTopics(ctx context.Context, brokers []string, partitions int, topics ...string) error {
	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: tr}
	req := &kafkago.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafkago.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: 1})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return platform.Unavailable(err, "create Kafka topics")
	}
	for t, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafkago.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, terr)
		}
	}
	return nil
}
