import Atomics

/// Closing, durability on demand, and stats.
extension DB {
    /// Makes everything acknowledged durable, flushes the memtable so the next open replays
    /// nothing, stops background work. Returns the first error met; the handle is closed anyway.
    public func close() throws {
        if isClosed.exchange(true, ordering: .acquiringAndReleasing) { return }
        var firstError: ShaleError? = nil
        if !options.readOnly {
            mutex.lock()
            while !queue.isEmpty { writeCond.wait(mutex) }
            if let fence, fence.load() != epoch, stickyError == nil {
                // A newer writer owns the location: it replayed what we acknowledged; we must
                // not write another file.
                stickyError = ShaleError.fenced("another writer opened \(location); this handle was fenced")
            }
            if stickyError == nil && bgError == nil && !mem.isEmpty {
                do { try switchMemtable() } catch let e as ShaleError { firstError = e } catch {}
            }
            // Let the background thread drain the checkpoint and flush queues.
            while (!imms.isEmpty || !pendingCheckpoints.isEmpty) && bgError == nil && stickyError == nil {
                bgCond.broadcast()
                bgCond.wait(mutex, timeoutMs: 50)
            }
            while bgBusy { bgCond.wait(mutex, timeoutMs: 50) }
            closing = true
            if firstError == nil { firstError = stickyError ?? bgError }
            // Seal the live segment: a clean close leaves no footer-less segment behind.
            if let segment = wal, stickyError == nil {
                do { try segment.seal() } catch let e as ShaleError { if firstError == nil { firstError = e } } catch {}
            }
            bgCond.broadcast()
            mutex.unlock()
            backgroundThread?.join()
            syncThread?.join()
            OpenRegistry.remove(location)
        }
        if let e = firstError { throw e }
    }

    /// Makes everything acknowledged so far durable on storage.
    public func flush() throws {
        try checkOpen()
        if options.readOnly { return }
        try flushWAL()
        try waitForPendingCheckpoints()
    }

    /// Counters and state as JSON text.
    public func statsJSON() throws -> String {
        try checkOpen()
        let (m, memBytes, memEntries, immCount, snapCount, bg) = mutex.withLock {
            (manifest, mem.approximateBytes, mem.entryCount, imms.count, snapshots.values.reduce(0, +),
             bgError ?? stickyError)
        }
        func n(_ a: ManagedAtomicCounter) -> String { String(a.load(ordering: .relaxed)) }
        var f: [(String, String)] = [
            ("location", jsonString(location)),
            ("version", jsonString(shaleVersion)),
            ("last_sequence", String(visibleSequence.load(ordering: .relaxed))),
            ("manifest_id", String(m.id)),
            ("writer_epoch", String(m.writerEpoch)),
            ("wal_replay_from", String(m.walReplayFrom)),
            ("flushed_sequence", String(m.flushedSequence)),
            ("memtable_bytes", String(memBytes)),
            ("memtable_entries", String(memEntries)),
            ("immutable_memtables", String(immCount)),
            ("live_snapshots", String(snapCount)),
            ("checkpoints", String(m.checkpoints.count)),
            ("puts", n(stats.puts)), ("deletes", n(stats.deletes)), ("batches", n(stats.batches)),
            ("gets", n(stats.gets)), ("wal_bytes", n(stats.walBytes)), ("wal_syncs", n(stats.walSyncs)),
            ("commit_groups", n(stats.commitGroups)), ("flushes", n(stats.flushes)),
            ("compactions", n(stats.compactions)), ("bytes_flushed", n(stats.bytesFlushed)),
            ("bytes_compacted", n(stats.bytesCompacted)), ("write_stalls", n(stats.writeStalls)),
            ("wal_segments_deleted", n(stats.walSegmentsDeleted)), ("tables_deleted", n(stats.tablesDeleted)),
            ("replayed_records", n(stats.replayedRecords)), ("open_time_us", String(stats.openTimeUs)),
            ("crc32c_hardware", CRC32C.isHardware ? "true" : "false"),
            ("background_error", bg.map { jsonString($0.description) } ?? "null"),
        ]
        let levels = m.levels.map { level in
            "{\"tables\":\(level.count),\"bytes\":\(level.reduce(0) { $0 + $1.fileBytes }),\"entries\":\(level.reduce(0) { $0 + $1.entryCount })}"
        }
        f.append(("levels", "[" + levels.joined(separator: ",") + "]"))
        return "{" + f.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }
}

typealias ManagedAtomicCounter = ManagedAtomic<UInt64>

public let shaleVersion = "0.1.0"

/// A JSON string literal.
public func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}
