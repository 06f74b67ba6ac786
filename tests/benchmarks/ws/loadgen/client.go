package main

// The load client. Every connection subscribes and waits for its `subscribed` reply
// before "ready" is printed, so the feeder is only triggered once all clients listen.
//
// stdin commands, one JSON object per line:
//
//	{"cmd":"arm","run":1,"count":5000,"idle_timeout":10}  expect `count` trade frames per connection
//	{"cmd":"stats"}  counters outside runs: {"event":"stats","stray_frames":...}
//	{"cmd":"quit"}
//
// Each arm answers {"event":"armed"} at once, then {"event":"result",...} when every
// connection has its `count` frames, or when nothing arrived for idle_timeout seconds
// (then the result says how many are missing). Trade ids are the feeder's publish time
// in microseconds, strictly increasing: each connection checks its frames come in order
// and computes receipt time minus publish time for every delivery.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

var (
	typeKey    = []byte(`"type":`)
	tradeIDKey = []byte(`"trade_id":`)
	trade      = []byte(`"trade"`)
	subscribed = []byte(`"subscribed"`)
)

type connState struct {
	count      int
	firstID    int64
	firstRecv  int64
	lastID     int64
	outOfOrder int
	lastRecv   int64
	bytes      int64
	latency    []int32
}

type run struct {
	id        int
	expected  int
	armedAt   int64 // trade ids below this were published before the run: late frames of an earlier one
	conns     []connState
	complete  atomic.Int64
	delivered atomic.Int64
	finished  chan struct{}
	sample    []byte
}

type client struct {
	conns   []*websocket.Conn
	current atomic.Pointer[run]
	closed  atomic.Int64
	stray   atomic.Int64
	other   atomic.Int64
}

type command struct {
	Cmd         string  `json:"cmd"`
	Run         int     `json:"run"`
	Count       int     `json:"count"`
	IdleTimeout float64 `json:"idle_timeout"`
}

func runClient(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	url := fs.String("url", "ws://127.0.0.1:8080/ws/crypto", "WebSocket URL")
	n := fs.Int("n", 100, "connections")
	sub := fs.String("subscribe", `{"action":"subscribe","type":"trades","symbol":"BTCUSDT"}`, "subscribe message")
	parallel := fs.Int("parallel", 50, "connections opened at once")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the client to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *profile != "" {
		out, err := os.Create(*profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	c := &client{conns: make([]*websocket.Conn, *n)}
	started := time.Now()
	if err := c.connect(*url, []byte(*sub), *parallel); err != nil {
		return err
	}
	for i, conn := range c.conns {
		go c.read(i, conn)
	}
	emit(map[string]any{"event": "ready", "connections": *n, "seconds": time.Since(started).Seconds()})
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		var cmd command
		if err := json.Unmarshal(scanner.Bytes(), &cmd); err != nil {
			return fmt.Errorf("bad command %q: %w", scanner.Text(), err)
		}
		switch cmd.Cmd {
		case "arm":
			r := c.arm(cmd)
			emit(map[string]any{"event": "armed", "run": cmd.Run})
			emit(c.await(r, time.Duration(cmd.IdleTimeout*float64(time.Second))))
		case "stats":
			emit(map[string]any{
				"event": "stats", "stray_frames": c.stray.Load(), "other_frames": c.other.Load(),
				"closed_connections": c.closed.Load(),
			})
		case "quit":
			return nil
		default:
			return fmt.Errorf("unknown command %q", cmd.Cmd)
		}
	}
	return scanner.Err()
}

// connect opens and subscribes every connection, a few at a time so the server's
// accept backlog never overflows (an overflow costs a one-second SYN retry).
func (c *client) connect(url string, sub []byte, parallel int) error {
	dialer := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 32 << 10}
	slots := make(chan struct{}, parallel)
	errs := make(chan error, len(c.conns))
	var wg sync.WaitGroup
	for i := range c.conns {
		slots <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-slots; wg.Done() }()
			conn, err := subscribe(&dialer, url, sub)
			if err != nil {
				errs <- fmt.Errorf("connection %d: %w", i, err)
				return
			}
			c.conns[i] = conn
		}(i)
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when the channel is empty
}

func subscribe(dialer *websocket.Dialer, url string, sub []byte) (*websocket.Conn, error) {
	conn, resp, err := dialer.Dial(url, http.Header{})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	if err := conn.WriteMessage(websocket.TextMessage, sub); err != nil {
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, frame, err := conn.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("waiting for the subscribed reply: %w", err)
		}
		if bytes.HasPrefix(valueOf(frame, typeKey), subscribed) {
			conn.SetReadDeadline(time.Time{})
			return conn, nil
		}
	}
}

func (c *client) arm(cmd command) *run {
	r := &run{
		id: cmd.Run, expected: cmd.Count, armedAt: nowMicros(),
		conns: make([]connState, len(c.conns)), finished: make(chan struct{}),
	}
	for i := range r.conns {
		r.conns[i].latency = make([]int32, 0, cmd.Count)
	}
	c.current.Store(r)
	return r
}

func (c *client) read(idx int, conn *websocket.Conn) {
	buf := make([]byte, 0, 1024)
	for {
		_, reader, err := conn.NextReader()
		if err != nil {
			c.closed.Add(1)
			return
		}
		buf, err = readAll(reader, buf[:0])
		now := nowMicros()
		if err != nil {
			c.closed.Add(1)
			return
		}
		if !bytes.HasPrefix(valueOf(buf, typeKey), trade) {
			c.other.Add(1)
			continue
		}
		id := parseTradeID(buf)
		r := c.current.Load()
		if r == nil || id < r.armedAt || r.conns[idx].count >= r.expected {
			c.stray.Add(1)
			continue
		}
		r.record(idx, buf, id, now)
	}
}

func (r *run) record(idx int, frame []byte, id, now int64) {
	st := &r.conns[idx]
	if id <= st.lastID {
		st.outOfOrder++
	}
	st.lastID = id
	st.latency = append(st.latency, int32(now-id))
	st.bytes += int64(len(frame))
	st.lastRecv = now
	st.count++
	if st.count == 1 {
		st.firstID, st.firstRecv = id, now
		if idx == 0 {
			r.sample = slices.Clone(frame)
		}
	}
	r.delivered.Add(1)
	if st.count == r.expected && r.complete.Add(1) == int64(len(r.conns)) {
		close(r.finished)
	}
}

// await waits for the run to finish or stall, then summarises it.
func (c *client) await(r *run, idle time.Duration) map[string]any {
	timedOut := false
	last, lastChange := int64(-1), time.Now()
wait:
	for {
		select {
		case <-r.finished:
			break wait
		case <-time.After(50 * time.Millisecond):
			if d := r.delivered.Load(); d != last {
				last, lastChange = d, time.Now()
			} else if time.Since(lastChange) > idle {
				timedOut = true
				c.current.Store(nil)
				time.Sleep(100 * time.Millisecond) // let readers leave the run
				break wait
			}
		}
	}
	return r.summary(c, timedOut)
}

func (r *run) summary(c *client, timedOut bool) map[string]any {
	var received, outOfOrder, frameBytes int64
	var firstRecv, lastRecv int64 = 1 << 62, 0
	var firstID int64 = 1 << 62
	all := make([]int32, 0, r.expected*len(r.conns))
	for i := range r.conns {
		st := &r.conns[i]
		received += int64(st.count)
		outOfOrder += int64(st.outOfOrder)
		frameBytes += st.bytes
		if st.count > 0 {
			lastRecv = max(lastRecv, st.lastRecv)
			firstRecv = min(firstRecv, st.firstRecv)
			firstID = min(firstID, st.firstID)
		}
		all = append(all, st.latency...)
	}
	slices.Sort(all)
	out := map[string]any{
		"event": "result", "run": r.id, "clients": len(r.conns), "expected": r.expected,
		"received": received, "missing": int64(r.expected*len(r.conns)) - received,
		"complete_clients": r.complete.Load(), "out_of_order": outOfOrder, "timed_out": timedOut,
		"closed_connections": c.closed.Load(), "stray_frames": c.stray.Load(), "other_frames": c.other.Load(),
		"first_trade_id": firstID, "first_recv_us": firstRecv, "last_recv_us": lastRecv,
		"sample": string(r.sample),
	}
	if received > 0 {
		out["frame_bytes"] = float64(frameBytes) / float64(received)
		out["latency_us"] = map[string]int32{
			"p50": pct(all, 0.50), "p90": pct(all, 0.90), "p99": pct(all, 0.99),
			"p999": pct(all, 0.999), "max": all[len(all)-1],
		}
	}
	return out
}

func pct(sorted []int32, q float64) int32 {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// valueOf returns the frame from the first value of `key` on (spaces skipped), or nil.
// Frames are matched on bytes rather than decoded: the client must outpace the servers.
func valueOf(frame, key []byte) []byte {
	at := bytes.Index(frame, key)
	if at < 0 {
		return nil
	}
	return bytes.TrimLeft(frame[at+len(key):], " ")
}

func parseTradeID(frame []byte) int64 {
	value := valueOf(frame, tradeIDKey)
	if len(value) == 0 {
		return -1
	}
	var id int64
	for _, ch := range value {
		if ch < '0' || ch > '9' {
			break
		}
		id = id*10 + int64(ch-'0')
	}
	return id
}
