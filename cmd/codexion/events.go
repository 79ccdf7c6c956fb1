package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"

	"github.com/codexion/codexion/connectors/outbox"
	"github.com/codexion/codexion/platform"
)

func (c *cli) eventsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "events", Short: "Look at and replay the event stream"}
	cmd.AddCommand(c.eventsTailCmd(), c.eventsReplayCmd())
	return cmd
}

func (c *cli) eventsTailCmd() *cobra.Command {
	var topic string
	var fromBeginning bool
	var max int
	cmd := withConfigFlags(&cobra.Command{
		Use:   "tail",
		Short: "Print a topic's events as JSON lines until Ctrl-C (or --max)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, _, err := c.load(cmd)
			if err != nil {
				return err
			}
			brokers := l.Config.Kafka.Brokers
			if len(brokers) == 0 {
				brokers = []string{l.Config.Dev.KafkaAddr}
			}
			var id [6]byte
			_, _ = rand.Read(id[:])
			start := kafkago.LastOffset
			if fromBeginning {
				start = kafkago.FirstOffset
			}
			r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, GroupID: "codexion-tail-" + hex.EncodeToString(id[:]),
				GroupTopics: []string{topic}, StartOffset: start, MaxWait: 250 * time.Millisecond})
			defer r.Close() //nolint:errcheck // nothing to do about a failed close after reading
			enc := json.NewEncoder(c.stdout)
			for n := 0; max <= 0 || n < max; n++ {
				m, err := r.ReadMessage(cmd.Context())
				if err != nil {
					if cmd.Context().Err() != nil {
						return nil
					}
					return platform.Unavailable(err, "read %s from %v", topic, brokers)
				}
				headers := map[string]string{}
				for _, h := range m.Headers {
					headers[h.Key] = string(h.Value)
				}
				value := json.RawMessage(m.Value)
				if !json.Valid(m.Value) {
					value, _ = json.Marshal(string(m.Value))
				}
				if err := enc.Encode(map[string]any{"topic": m.Topic, "partition": m.Partition, "offset": m.Offset,
					"key": string(m.Key), "headers": headers, "value": value}); err != nil {
					return err
				}
			}
			return nil
		},
	})
	cmd.Flags().StringVar(&topic, "topic", "codexion.ledger.entries.v1", "topic to read")
	cmd.Flags().BoolVar(&fromBeginning, "from-beginning", false, "start at the oldest event instead of the next one")
	cmd.Flags().IntVar(&max, "max", 0, "stop after this many events (0: until Ctrl-C)")
	return cmd
}

func (c *cli) eventsReplayCmd() *cobra.Command {
	var from, to string
	cmd := withConfigFlags(&cobra.Command{
		Use:   "replay",
		Short: "Publish a range of outbox events again (consumers dedupe by id)",
		Long: `Marks the outbox events with ids from --from to --to (inclusive; UUIDv7, so time ordered) for
publishing again; the running relay sends them. Without --to, everything from --from on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return usageError{fmt.Errorf("--from is required: the first outbox event id to replay")}
			}
			db, err := c.openDB(cmd)
			if err != nil {
				return err
			}
			defer db.Stop(context.Background()) //nolint:errcheck // closing a pool has nothing to report
			n, err := outbox.Replay(cmd.Context(), db.Pool, from, to)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "%d events marked for publishing again\n", n)
			return nil
		},
	})
	cmd.Flags().StringVar(&from, "from", "", "first outbox event id")
	cmd.Flags().StringVar(&to, "to", "", "last outbox event id (default: the newest)")
	return cmd
}
