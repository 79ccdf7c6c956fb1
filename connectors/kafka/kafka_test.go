package kafka_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/codexion/codexion/app/devstack"
	"github.com/codexion/codexion/connectors/kafka"
	"github.com/codexion/codexion/platform"
)

func TestDescribeEmbeddedBroker(t *testing.T) {
	b := &devstack.KafkaBroker{Addr: "127.0.0.1:0"}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(context.Background())                           //nolint:errcheck // test teardown
	c := kafka.Cluster{Brokers: []string{"127.0.0.1:1", b.Addr}} // the first is down: bootstrap moves on
	md, err := c.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if md.ClusterID != b.ClusterID() || md.Brokers != 1 {
		t.Fatalf("metadata = %+v, want cluster %s with 1 broker", md, b.ClusterID())
	}
	if err := c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestEachStartIsANewCluster(t *testing.T) {
	ids := map[string]bool{}
	for range 2 {
		b := &devstack.KafkaBroker{Addr: "127.0.0.1:0"}
		if err := b.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ids[b.ClusterID()] = true
		_ = b.Stop(context.Background())
	}
	if len(ids) != 2 {
		t.Fatal("two starts of the embedded broker share a cluster id; consumers could not tell a fresh broker")
	}
}

func TestNoBrokerAnswers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := kafka.Cluster{Brokers: []string{"127.0.0.1:1"}}.Check(ctx)
	if platform.KindOf(err) != platform.KindUnavailable || !strings.Contains(err.Error(), "no Kafka broker answers (127.0.0.1:1)") {
		t.Fatalf("err = %v", err)
	}
}
