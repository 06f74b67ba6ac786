package main

// The blast server measures the load client's ceiling. It speaks the same subscribe
// handshake and control-file protocol as the servers under test, but on a command it
// encodes all the frames of the run once, as raw server frames (unmasked, so the bytes
// are the same for every client), and writes that buffer to each socket in one call.
// The server then does almost no work per delivery: what the client reaches is its own
// limit.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

type blast struct {
	mu    sync.Mutex
	conns []*websocket.Conn
}

type feedCommand struct {
	Run   int `json:"run"`
	Count int `json:"count"`
}

func runBlast(args []string) error {
	fs := flag.NewFlagSet("blast", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9100", "listen address")
	control := fs.String("control", "", "control folder (cmd-<run>.json in, done-<run>.json out)")
	perFrame := fs.Bool("per-frame", false, "one write per frame and client, in a loop, instead of one per client")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b := &blast{}
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	http.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		conn, err := upgrader.Upgrade(w, req, nil)
		if err != nil {
			return
		}
		if _, _, err := conn.ReadMessage(); err != nil { // the subscribe message
			conn.Close()
			return
		}
		reply := fmt.Sprintf(`{"type":"subscribed","data":{"type":"trades","symbol":"BTCUSDT","timeframe":null},"timestamp":%d}`,
			nowMicros()/1000)
		if conn.WriteMessage(websocket.TextMessage, []byte(reply)) != nil {
			conn.Close()
			return
		}
		b.mu.Lock()
		b.conns = append(b.conns, conn)
		b.mu.Unlock()
		for { // keep reading so control frames (ping, close) are answered
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	})
	go b.serveCommands(*control, *perFrame)
	return http.ListenAndServe(*addr, nil)
}

func (b *blast) serveCommands(dir string, perFrame bool) {
	for next := 1; ; next++ {
		cmd := waitCommand(dir, next)
		first := nowMicros()
		frames := encodeFrames(first, cmd.Count)
		b.mu.Lock()
		conns := append([]*websocket.Conn(nil), b.conns...)
		b.mu.Unlock()
		if perFrame {
			writeEach(conns, frames)
		} else {
			writeAll(conns, bytes.Join(frames, nil))
		}
		done, _ := json.Marshal(map[string]any{
			"run": cmd.Run, "published": cmd.Count, "first_us": first, "last_us": first + int64(cmd.Count) - 1,
		})
		writeAtomically(filepath.Join(dir, fmt.Sprintf("done-%d.json", cmd.Run)), done)
	}
}

// writeAll hands each client the whole run in one write, from one goroutine per client.
func writeAll(conns []*websocket.Conn, buf []byte) {
	var wg sync.WaitGroup
	for _, conn := range conns {
		wg.Add(1)
		go func(conn *websocket.Conn) {
			defer wg.Done()
			conn.NetConn().Write(buf)
		}(conn)
	}
	wg.Wait()
}

// writeEach sends frame by frame, each to every client in turn, as a broadcast loop does.
func writeEach(conns []*websocket.Conn, frames [][]byte) {
	for _, frame := range frames {
		for _, conn := range conns {
			conn.NetConn().Write(frame)
		}
	}
}

func waitCommand(dir string, run int) feedCommand {
	path := filepath.Join(dir, fmt.Sprintf("cmd-%d.json", run))
	for {
		if data, err := os.ReadFile(path); err == nil {
			var cmd feedCommand
			if json.Unmarshal(data, &cmd) == nil {
				return cmd
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func writeAtomically(path string, data []byte) {
	tmp := path + ".tmp"
	if os.WriteFile(tmp, data, 0o644) == nil {
		os.Rename(tmp, path)
	}
}

// encodeFrames lays out `count` trade frames of the benchmark's shape; trade ids
// start at `first` and step by one microsecond, so the order check still holds.
func encodeFrames(first int64, count int) [][]byte {
	frames := make([][]byte, count)
	for i := range frames {
		id := first + int64(i)
		payload := fmt.Sprintf(
			`{"type":"trade","data":{"symbol":"BTCUSDT","price":%s,"quantity":%s,"side":"%s","time":"%s","trade_id":%d},"timestamp":%d,"seq":%d}`,
			blastPrices[i%len(blastPrices)], blastQuantities[i%len(blastQuantities)], []string{"buy", "sell"}[i%2],
			time.UnixMilli(id/1000).UTC().Format("2006-01-02T15:04:05.000Z"), id, id/1000, i+1)
		out := []byte{0x81} // FIN + text
		if n := len(payload); n < 126 {
			out = append(out, byte(n))
		} else {
			out = append(out, 126, byte(n>>8), byte(n))
		}
		frames[i] = append(out, payload...)
	}
	return frames
}

var (
	blastPrices     = []string{"60012.5", "60013.25", "60011.75", "60014.1"}
	blastQuantities = []string{"0.0125", "0.5", "0.00342", "1.2"}
)
