// Command wsload is the load side of the WebSocket benchmark (tests/benchmarks/ws).
//
//	wsload client -url ws://127.0.0.1:8080/ws/crypto -n 1000 -subscribe '{"action":...}'
//	wsload blast -addr 127.0.0.1:9100 -control DIR
//
// `client` opens n subscribed connections, then takes JSON commands on stdin and answers
// JSON lines on stdout (see client.go). `blast` is a server that writes pre-encoded frames
// straight to the sockets: it costs almost nothing, so what it reaches is the client's
// own ceiling.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wsload client|blast [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "client":
		err = runClient(os.Args[2:])
	case "blast":
		err = runBlast(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsload:", err)
		os.Exit(1)
	}
}

// nowMicros is CLOCK_REALTIME in microseconds, the clock the feeders stamp trade ids with.
func nowMicros() int64 { return time.Now().UnixMicro() }

func emit(value any) {
	line, err := json.Marshal(value)
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(append(line, '\n'))
}
