package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/eventstore"
)

// Subscribe implements eventstore.Store. Subscribers are woken by this
// process's commits and by NOTIFYs of other processes' commits; a poll every
// Config.PollInterval covers a listener that is reconnecting.
func (s *Store) Subscribe(ctx context.Context, from uint64, fn func(eventstore.Event) error) error {
	if s.isClosed() {
		return eventstore.ErrClosed
	}
	s.listenOn.Do(func() {
		s.listenWG.Add(1)
		go s.listen()
	})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.stopCtx.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	err := eventstore.Follow(ctx, from, s.ReadAll, s.wake.Wait, eventstore.FollowConfig{PollInterval: s.cfg.PollInterval}, fn)
	if s.stopCtx.Err() != nil && ctx.Err() != nil {
		return eventstore.ErrClosed
	}
	return err
}

// Changed implements eventstore.ChangeNotifier: the channel closes at the
// next commit of this process or NOTIFY of another one, so runners tailing
// the log need not poll.
func (s *Store) Changed() <-chan struct{} {
	if !s.isClosed() {
		s.listenOn.Do(func() {
			s.listenWG.Add(1)
			go s.listen()
		})
	}
	return s.wake.Wait()
}

var _ eventstore.ChangeNotifier = (*Store)(nil)

// listen holds a dedicated (unpooled) connection LISTENing on the store's
// channel, reconnecting with backoff when it drops.
func (s *Store) listen() {
	defer s.listenWG.Done()
	ctx := s.stopCtx
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize())
			if err == nil {
				backoff = 100 * time.Millisecond
				s.wake.Notify() // we may have missed notifications while away
				for {
					if _, err = conn.WaitForNotification(ctx); err != nil {
						break
					}
					s.wake.Notify()
				}
			}
			conn.Close(context.Background())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}
