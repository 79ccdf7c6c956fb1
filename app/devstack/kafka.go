package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// KafkaBroker is the in-process Kafka-protocol broker. It keeps topics in memory, and
// each start gets a new cluster id so that clients can tell a fresh broker from the old.
type KafkaBroker struct {
	Addr string // 127.0.0.1:port; port 0 picks a free one

	cluster   *kfake.Cluster
	clusterID string
}

func (k *KafkaBroker) Name() string { return "dev-kafka" }

// Start listens and serves the Kafka protocol.
func (k *KafkaBroker) Start(context.Context) error {
	host, portText, err := net.SplitHostPort(k.Addr)
	if err != nil {
		return err
	}
	port, _ := strconv.Atoi(portText)
	if host != "127.0.0.1" && host != "localhost" {
		return portInUse(net.InvalidAddrError("the embedded broker listens on 127.0.0.1 only"), "embedded Kafka broker", k.Addr, "dev.kafka_addr")
	}
	if port != 0 {
		if err := checkFree("embedded Kafka broker", k.Addr, "CODEXION_DEV_KAFKA_ADDR"); err != nil {
			return err
		}
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	k.clusterID = "codexion-dev-" + hex.EncodeToString(id[:])
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.ClusterID(k.clusterID), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3)}
	if port != 0 {
		opts = append(opts, kfake.Ports(port))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return portInUse(err, "embedded Kafka broker", k.Addr, "CODEXION_DEV_KAFKA_ADDR")
	}
	k.cluster = c
	k.Addr = c.ListenAddrs()[0]
	return nil
}

// Stop closes the broker; its topics are gone.
func (k *KafkaBroker) Stop(context.Context) error {
	if k.cluster != nil {
		k.cluster.Close()
	}
	return nil
}

// ClusterID is this run's cluster id.
func (k *KafkaBroker) ClusterID() string { return k.clusterID }
