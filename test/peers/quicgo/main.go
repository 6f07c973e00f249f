// quicgo-peer: quic-go as an independent QUIC peer for quicbridge's interop
// tests. Same subcommands, flags and JSON output as test/peers/aioquic_peer.py
// where quic-go can do the same thing:
//
//	quicgo-peer server --cert CHAIN.pem --key KEY.pem [--retry] [--max-streams K] ...
//	quicgo-peer client --port P --ca CA.pem --mode echo|streams|datagrams ...
//	quicgo-peer h3-server --cert CHAIN.pem --key KEY.pem --dir DIR
//	quicgo-peer h3-get --ca CA.pem https://localhost:PORT/FILE
//
// Servers print {"event":"listening","port":N} when ready and run until
// SIGTERM; clients print one JSON line and exit 0 when every check passed.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/quic-go/qlog"
	"github.com/quic-go/quic-go/qlogwriter"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: quicgo-peer server|client|h3-server|h3-get [flags]")
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "server":
		err = runServer(args)
	case "client":
		os.Exit(runClient(args))
	case "h3-server":
		err = runH3Server(args)
	case "h3-get":
		os.Exit(runH3Get(args))
	default:
		err = fmt.Errorf("unknown subcommand %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "quicgo-peer:", err)
		os.Exit(1)
	}
}

func emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func quicGoVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/quic-go/quic-go" {
				return dep.Version
			}
		}
	}
	return "unknown"
}

// preferChaCha20 re-runs this program with AES-GCM hardware support hidden
// from Go. crypto/tls ignores Config.CipherSuites for TLS 1.3, so the suite
// cannot be restricted; without AES hardware both its client and its server
// put TLS_CHACHA20_POLY1305_SHA256 first. It never returns.
func preferChaCha20() {
	if strings.Contains(os.Getenv("GODEBUG"), "cpu.aes=off") {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	env := append(os.Environ(), "GODEBUG="+strings.TrimPrefix(os.Getenv("GODEBUG")+",cpu.aes=off", ","))
	err = syscall.Exec(exe, os.Args, env)
	fmt.Fprintln(os.Stderr, "quicgo-peer: re-exec for --cipher CHACHA20 failed:", err)
	os.Exit(1)
}

// keyUpdates counts 1-RTT key updates from quic-go's qlog events: quic-go
// has no API to request a key update, but it starts one by itself after 100
// packets (to exercise the mechanism), and answers the peer's.
type keyUpdates struct{ local, remote atomic.Int32 }

func (k *keyUpdates) AddProducer() qlogwriter.Recorder { return k }
func (k *keyUpdates) Close() error                     { return nil }
func (k *keyUpdates) RecordEvent(ev qlogwriter.Event) {
	// One update is logged once per direction's key; count the client's.
	if ku, ok := ev.(qlog.KeyUpdated); ok && ku.KeyType == qlog.KeyTypeClient1RTT {
		switch ku.Trigger {
		case qlog.KeyUpdateLocal:
			k.local.Add(1)
		case qlog.KeyUpdateRemote:
			k.remote.Add(1)
		}
	}
}

type commonFlags struct {
	host, alpn, cipher string
	port               int
	idleTimeout        time.Duration
}

// secondsFlag parses seconds (as the other peers take them) into a Duration.
func secondsFlag(d *time.Duration) func(string) error {
	return func(s string) error {
		var f float64
		if _, err := fmt.Sscan(s, &f); err != nil {
			return err
		}
		*d = time.Duration(f * float64(time.Second))
		return nil
	}
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	c.idleTimeout = 30 * time.Second
	fs.StringVar(&c.host, "host", "127.0.0.1", "address to listen on / connect to")
	fs.IntVar(&c.port, "port", 0, "UDP port")
	fs.StringVar(&c.alpn, "alpn", "echo", "comma-separated ALPN protocols")
	fs.StringVar(&c.cipher, "cipher", "", "CHACHA20: prefer TLS_CHACHA20_POLY1305_SHA256 (Go cannot restrict TLS 1.3 suites)")
	fs.Func("idle-timeout", "QUIC idle timeout in seconds (default 30)", secondsFlag(&c.idleTimeout))
}

func cipherName(id uint16) string { return tls.CipherSuiteName(id) }

// ---------------------------------------------------------------- server

func runServer(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	var c commonFlags
	c.register(fs)
	cert := fs.String("cert", "", "certificate chain PEM (leaf first)")
	key := fs.String("key", "", "private key PEM")
	retry := fs.Bool("retry", false, "validate every client address with Retry")
	maxStreams := fs.Int64("max-streams", 100, "concurrent bidirectional streams the client may open")
	_ = fs.Parse(args)
	if strings.EqualFold(c.cipher, "CHACHA20") {
		preferChaCha20()
	}
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		return err
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: strings.Split(c.alpn, ",")}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(c.host), Port: c.port})
	if err != nil {
		return err
	}
	tr := &quic.Transport{
		Conn:                udp,
		VerifySourceAddress: func(net.Addr) bool { return *retry },
		// Each connection gets its own key update counter, which the
		// tracer below finds in the connection's context.
		ConnContext: func(ctx context.Context, _ *quic.ClientInfo) (context.Context, error) {
			return context.WithValue(ctx, keyUpdatesKey{}, &keyUpdates{}), nil
		},
	}
	ln, err := tr.ListenEarly(tlsConf, &quic.Config{
		MaxIdleTimeout:     c.idleTimeout,
		MaxIncomingStreams: *maxStreams,
		EnableDatagrams:    true,
		Allow0RTT:          true,
		Tracer: func(ctx context.Context, isClient bool, _ quic.ConnectionID) qlogwriter.Trace {
			return ctx.Value(keyUpdatesKey{}).(*keyUpdates)
		},
	})
	if err != nil {
		return err
	}
	emit(map[string]any{"event": "listening", "peer": "quicgo", "version": quicGoVersion(), "host": c.host,
		"port": udp.LocalAddr().(*net.UDPAddr).Port})

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sigs; _ = ln.Close(); _ = tr.Close() }()
	for {
		conn, err := ln.Accept(context.Background())
		if err != nil {
			return nil // closed by a signal
		}
		go serveEcho(conn)
	}
}

type keyUpdatesKey struct{}

func serveEcho(conn *quic.Conn) {
	var streams, datagrams atomic.Int32
	go func() {
		for {
			d, err := conn.ReceiveDatagram(context.Background())
			if err != nil {
				return
			}
			datagrams.Add(1)
			_ = conn.SendDatagram(d)
		}
	}()
	for {
		s, err := conn.AcceptStream(context.Background())
		if err != nil {
			break
		}
		go func() {
			if _, err := io.Copy(s, s); err == nil {
				streams.Add(1)
			}
			_ = s.Close()
		}()
	}
	<-conn.Context().Done()
	state := conn.ConnectionState()
	ku := conn.Context().Value(keyUpdatesKey{}).(*keyUpdates)
	ev := map[string]any{"event": "connection", "alpn": state.TLS.NegotiatedProtocol,
		"cipher": cipherName(state.TLS.CipherSuite), "resumed": state.TLS.DidResume,
		"early_data_accepted": state.Used0RTT, "streams": streams.Load(), "datagrams": datagrams.Load(),
		"key_updates_local": ku.local.Load(), "key_updates_remote": ku.remote.Load()}
	var appErr *quic.ApplicationError
	if err := context.Cause(conn.Context()); errors.As(err, &appErr) {
		ev["error_code"], ev["reason"] = appErr.ErrorCode, appErr.ErrorMessage
	} else if err != nil {
		ev["reason"] = err.Error()
	}
	emit(ev)
}

// ---------------------------------------------------------------- client

// fileSessionCache keeps the newest session ticket in a file, so a second
// run of the client can resume (and send 0-RTT). quic-go stores the
// transport parameters it needs for 0-RTT in the session state's Extra,
// which SessionState.Bytes keeps.
type fileSessionCache struct {
	path string
	puts atomic.Int32
	mu   sync.Mutex
}

type storedSession struct {
	Key    string `json:"key"`
	Ticket []byte `json:"ticket"`
	State  []byte `json:"state"`
}

func (c *fileSessionCache) Get(key string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := os.ReadFile(c.path)
	if err != nil {
		return nil, false
	}
	var s storedSession
	if json.Unmarshal(b, &s) != nil || s.Key != key {
		return nil, false
	}
	state, err := tls.ParseSessionState(s.State)
	if err != nil {
		return nil, false
	}
	cs, err := tls.NewResumptionState(s.Ticket, state)
	return cs, err == nil
}

func (c *fileSessionCache) Put(key string, cs *tls.ClientSessionState) {
	if cs == nil {
		return // crypto/tls deletes entries this way; a newer ticket will replace it
	}
	ticket, state, err := cs.ResumptionState()
	if err != nil || state == nil {
		return
	}
	b, err := state.Bytes()
	if err != nil {
		return
	}
	out, _ := json.Marshal(storedSession{Key: key, Ticket: ticket, State: b})
	c.mu.Lock()
	defer c.mu.Unlock()
	if os.WriteFile(c.path, out, 0o600) == nil {
		c.puts.Add(1)
	}
}

type clientFlags struct {
	commonFlags
	ca, servername, mode, sessionTicket string
	insecure, keyUpdate                 bool
	bytes, streams, streamSize          int
	datagrams, datagramSize             int
	timeout                             time.Duration
}

func runClient(args []string) int {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	var f clientFlags
	f.register(fs)
	fs.StringVar(&f.ca, "ca", "", "CA certificate PEM to verify the server with")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the server certificate")
	fs.StringVar(&f.servername, "servername", "localhost", "TLS server name")
	fs.StringVar(&f.mode, "mode", "echo", "echo | streams | datagrams")
	fs.IntVar(&f.bytes, "bytes", 1024, "echo mode: bytes sent on one stream")
	fs.IntVar(&f.streams, "streams", 2000, "streams mode: number of streams")
	fs.IntVar(&f.streamSize, "stream-size", 32, "streams mode: bytes per stream")
	fs.IntVar(&f.datagrams, "datagrams", 50, "datagrams mode: number of datagrams")
	fs.IntVar(&f.datagramSize, "datagram-size", 100, "datagrams mode: size of each")
	fs.StringVar(&f.sessionTicket, "session-ticket", "", "file to resume from (if present) and save tickets to")
	fs.BoolVar(&f.keyUpdate, "key-update", false, "check that a 1-RTT key update happened (quic-go starts one itself)")
	f.timeout = 60 * time.Second
	fs.Func("timeout", "overall limit in seconds (default 60)", secondsFlag(&f.timeout))
	_ = fs.Parse(args)
	if strings.EqualFold(f.cipher, "CHACHA20") {
		preferChaCha20()
	}

	result := map[string]any{"peer": "quicgo", "version": quicGoVersion(), "role": "client", "mode": f.mode}
	started := time.Now()
	ok, err := client(&f, result)
	if err != nil {
		result["error"] = err.Error()
		ok = false
	}
	result["elapsed_ms"] = time.Since(started).Milliseconds()
	result["ok"] = ok
	emit(result)
	if ok {
		return 0
	}
	return 1
}

func client(f *clientFlags, result map[string]any) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	tlsConf := &tls.Config{ServerName: f.servername, NextProtos: strings.Split(f.alpn, ","), InsecureSkipVerify: f.insecure}
	if !f.insecure {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return false, err
		}
		tlsConf.RootCAs = x509.NewCertPool()
		if !tlsConf.RootCAs.AppendCertsFromPEM(pem) {
			return false, fmt.Errorf("no certificates in %s", f.ca)
		}
	}
	var cache *fileSessionCache
	if f.sessionTicket != "" {
		_, err := os.Stat(f.sessionTicket)
		result["ticket_loaded"] = err == nil
		cache = &fileSessionCache{path: f.sessionTicket}
		tlsConf.ClientSessionCache = cache
	}
	ku := &keyUpdates{}
	conn, err := quic.DialAddrEarly(ctx, net.JoinHostPort(f.host, fmt.Sprint(f.port)), tlsConf, &quic.Config{
		MaxIdleTimeout:  f.idleTimeout,
		EnableDatagrams: true,
		Tracer:          func(context.Context, bool, quic.ConnectionID) qlogwriter.Trace { return ku },
	})
	if err != nil {
		return false, err
	}
	defer conn.CloseWithError(0, "done")

	var ok bool
	switch f.mode {
	case "echo":
		ok, err = echoMode(ctx, conn, f, result)
	case "streams":
		ok, err = streamsMode(ctx, conn, f, result)
	case "datagrams":
		ok, err = datagramsMode(ctx, conn, f, result)
	default:
		err = fmt.Errorf("unknown mode %q", f.mode)
	}
	if err != nil {
		return false, err
	}
	select {
	case <-conn.HandshakeComplete():
	case <-ctx.Done():
		return false, ctx.Err()
	}
	if cache != nil {
		// The ticket arrives after the handshake; give it a moment.
		for i := 0; i < 50 && cache.puts.Load() == 0; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		result["tickets_saved"] = cache.puts.Load()
	}
	state := conn.ConnectionState()
	result["alpn"] = state.TLS.NegotiatedProtocol
	result["cipher"] = cipherName(state.TLS.CipherSuite)
	result["resumed"] = state.TLS.DidResume
	result["early_data_accepted"] = state.Used0RTT
	result["key_updates_local"], result["key_updates_remote"] = ku.local.Load(), ku.remote.Load()
	if f.keyUpdate {
		result["key_update"] = ku.local.Load()+ku.remote.Load() > 0
		ok = ok && result["key_update"] == true
	}
	return ok, nil
}

func echoMode(ctx context.Context, conn *quic.Conn, f *clientFlags, result map[string]any) (bool, error) {
	data := make([]byte, f.bytes)
	if _, err := io.ReadFull(randReader{}, data); err != nil {
		return false, err
	}
	s, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return false, err
	}
	// Write and read at once: a streaming echo server stops reading when
	// its writes back to us are not consumed.
	writeErr := make(chan error, 1)
	go func() {
		_, err := s.Write(data)
		if err == nil {
			err = s.Close()
		}
		writeErr <- err
	}()
	h := sha256.New()
	n, err := io.Copy(h, s)
	if err != nil {
		return false, err
	}
	if err := <-writeErr; err != nil {
		return false, err
	}
	sent := sha256.Sum256(data)
	result["bytes"], result["echoed_bytes"] = f.bytes, n
	result["sha256_sent"], result["sha256_echo"] = hex.EncodeToString(sent[:]), hex.EncodeToString(h.Sum(nil))
	return result["sha256_sent"] == result["sha256_echo"], nil
}

func streamsMode(ctx context.Context, conn *quic.Conn, f *clientFlags, result map[string]any) (bool, error) {
	var good atomic.Int32
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	for i := 0; i < f.streams; i++ {
		payload := streamPayload(i, f.streamSize)
		// OpenStreamSync blocks while the server's MAX_STREAMS limit is
		// reached, until it raises the limit.
		s, err := conn.OpenStreamSync(ctx)
		if err != nil {
			return false, fmt.Errorf("opening stream %d: %w", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Write(payload); err != nil {
				once.Do(func() { firstErr = err })
				return
			}
			_ = s.Close()
			echo, err := io.ReadAll(s)
			if err != nil {
				once.Do(func() { firstErr = err })
				return
			}
			if string(echo) == string(payload) {
				good.Add(1)
			}
		}()
	}
	wg.Wait()
	result["streams"], result["stream_size"], result["streams_ok"] = f.streams, f.streamSize, good.Load()
	if firstErr != nil {
		return false, firstErr
	}
	return int(good.Load()) == f.streams, nil
}

func streamPayload(i, size int) []byte {
	sum := sha256.Sum256([]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
	out := make([]byte, size)
	copy(out, sum[:])
	return out
}

func datagramsMode(ctx context.Context, conn *quic.Conn, f *clientFlags, result map[string]any) (bool, error) {
	select {
	case <-conn.HandshakeComplete():
	case <-ctx.Done():
		return false, ctx.Err()
	}
	if !conn.ConnectionState().SupportsDatagrams.Remote {
		result["error"] = "peer does not accept DATAGRAM frames (no max_datagram_frame_size)"
		return false, nil
	}
	sent := map[string]bool{}
	var received, valid atomic.Int32
	recvCtx, stop := context.WithCancel(ctx)
	defer stop()
	var mu sync.Mutex
	go func() {
		for {
			d, err := conn.ReceiveDatagram(recvCtx)
			if err != nil {
				return
			}
			received.Add(1)
			mu.Lock()
			if sent[string(d)] {
				valid.Add(1)
			}
			mu.Unlock()
		}
	}()
	for i := 0; i < f.datagrams; i++ {
		d := []byte(fmt.Sprintf("datagram %05d ", i))
		for len(d) < f.datagramSize {
			d = append(d, '.')
		}
		mu.Lock()
		sent[string(d)] = true
		mu.Unlock()
		if err := conn.SendDatagram(d); err != nil {
			return false, err
		}
		if i%10 == 9 {
			time.Sleep(5 * time.Millisecond) // unreliable: do not overrun queues
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for int(received.Load()) < f.datagrams && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	result["datagrams_sent"], result["datagrams_received"], result["datagrams_valid"] = f.datagrams, received.Load(), valid.Load()
	// Loopback loses nothing, but DATAGRAM frames are allowed to be dropped.
	return valid.Load() == received.Load() && float64(valid.Load()) >= 0.9*float64(f.datagrams), nil
}

// randReader fills with a cheap pseudo-random pattern: the echo check
// needs bytes that are not all alike, not secrecy.
type randReader struct{}

func (randReader) Read(p []byte) (int, error) {
	x := uint64(time.Now().UnixNano()) | 1
	for i := range p {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		p[i] = byte(x)
	}
	return len(p), nil
}

// ---------------------------------------------------------------- HTTP/3

func runH3Server(args []string) error {
	fs := flag.NewFlagSet("h3-server", flag.ExitOnError)
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", 0, "UDP port")
	cert := fs.String("cert", "", "certificate chain PEM (leaf first)")
	key := fs.String("key", "", "private key PEM")
	dir := fs.String("dir", ".", "directory to serve")
	_ = fs.Parse(args)
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		return err
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(*host), Port: *port})
	if err != nil {
		return err
	}
	srv := &http3.Server{
		Handler:   http.FileServer(http.Dir(*dir)),
		TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{pair}}),
	}
	emit(map[string]any{"event": "listening", "peer": "quicgo", "version": quicGoVersion(), "host": *host,
		"port": udp.LocalAddr().(*net.UDPAddr).Port, "alpn": "h3"})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sigs; _ = srv.Close(); _ = udp.Close() }()
	if err := srv.Serve(udp); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

func runH3Get(args []string) int {
	fs := flag.NewFlagSet("h3-get", flag.ExitOnError)
	ca := fs.String("ca", "", "CA certificate PEM")
	insecure := fs.Bool("insecure", false, "do not verify the server certificate")
	servername := fs.String("servername", "", "TLS server name (default: the URL's host)")
	out := fs.String("out", "", "also save the body to this file")
	timeout := new(time.Duration)
	*timeout = 60 * time.Second
	fs.Func("timeout", "overall limit in seconds (default 60)", secondsFlag(timeout))
	_ = fs.Parse(args)
	result := map[string]any{"peer": "quicgo", "version": quicGoVersion(), "role": "h3-client", "url": fs.Arg(0)}
	err := func() error {
		tlsConf := &tls.Config{ServerName: *servername, InsecureSkipVerify: *insecure}
		if !*insecure {
			pem, err := os.ReadFile(*ca)
			if err != nil {
				return err
			}
			tlsConf.RootCAs = x509.NewCertPool()
			tlsConf.RootCAs.AppendCertsFromPEM(pem)
		}
		tr := &http3.Transport{TLSClientConfig: tlsConf}
		defer tr.Close()
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fs.Arg(0), nil)
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		h := sha256.New()
		var w io.Writer = h
		if *out != "" {
			file, err := os.Create(*out)
			if err != nil {
				return err
			}
			defer file.Close()
			w = io.MultiWriter(h, file)
		}
		n, err := io.Copy(w, resp.Body)
		result["status"], result["bytes"], result["sha256"] = resp.StatusCode, n, hex.EncodeToString(h.Sum(nil))
		return err
	}()
	if err != nil {
		result["error"] = err.Error()
	}
	result["ok"] = err == nil
	emit(result)
	if err != nil {
		return 1
	}
	return 0
}
