use std::time::Duration;

use serde::Serialize;

/// A connection's counters as quinn keeps them. Byte and datagram counts are
/// UDP payloads (QUIC headers, encryption and retransmissions included).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub smoothed_rtt_ms: f64,
    pub min_rtt_ms: f64,
    /// Congestion window, bytes.
    pub congestion_window: u64,
    pub congestion_events: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub datagrams_sent: u64,
    pub datagrams_received: u64,
    pub packets_sent: u64,
    pub packets_lost: u64,
    pub bytes_lost: u64,
    /// The UDP payload size in use on the path.
    pub mtu: u16,
    pub black_holes_detected: u64,
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

impl Stats {
    pub(crate) fn from_quinn(stats: &quinn::ConnectionStats, smoothed_rtt: Duration) -> Self {
        Stats {
            smoothed_rtt_ms: ms(smoothed_rtt),
            min_rtt_ms: ms(stats.path.min_rtt),
            congestion_window: stats.path.cwnd,
            congestion_events: stats.path.congestion_events,
            bytes_sent: stats.udp_tx.bytes,
            bytes_received: stats.udp_rx.bytes,
            datagrams_sent: stats.udp_tx.datagrams,
            datagrams_received: stats.udp_rx.datagrams,
            packets_sent: stats.path.sent_packets,
            packets_lost: stats.path.lost_packets,
            bytes_lost: stats.path.lost_bytes,
            mtu: stats.path.current_mtu,
            black_holes_detected: stats.path.black_holes_detected,
        }
    }
}
