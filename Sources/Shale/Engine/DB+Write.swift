/// The write path: validation, the commit queue with group commit, WAL append, memtable insert.
extension DB {
    public func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
        try checkOpen()
        try validate(key: key)
        try validate(value: value)
        var w = PendingWrite(kind: .put, key: key, value: value)
        try commit(&w)
        stats.puts.wrappingIncrement(ordering: .relaxed)
    }

    public func delete(_ key: UnsafeRawBufferPointer) throws {
        try checkOpen()
        try validate(key: key)
        var w = PendingWrite(kind: .delete, key: key)
        try commit(&w)
        stats.deletes.wrappingIncrement(ordering: .relaxed)
    }

    /// Applies every operation of the batch or none.
    public func write(_ batch: WriteBatch) throws {
        try checkOpen()
        // The batch stays locked while it commits: other threads filling it wait.
        try batch.withContents { ops, count, largest in
            if count == 0 { return }
            if largest > options.maxValueBytes {
                throw ShaleError.invalid("batch holds a value of \(largest) bytes; the limit is \(options.maxValueBytes)")
            }
            var w = PendingWrite(kind: .batch, ops: ops, opCount: count)
            try commit(&w)
        }
        stats.batches.wrappingIncrement(ordering: .relaxed)
    }

    /// Makes every acknowledged write durable now.
    public func flushWAL() throws {
        try checkOpen()
        var w = PendingWrite(kind: .syncOnly, forceSync: true)
        try commit(&w)
    }

    public func put(_ key: [UInt8], _ value: [UInt8]) throws {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try put(k, v) } }
    }

    public func delete(_ key: [UInt8]) throws {
        try key.withUnsafeBytes { try delete($0) }
    }

    func validate(key: UnsafeRawBufferPointer) throws {
        if key.count == 0 { throw ShaleError.invalid("key is empty") }
        if key.count > Options.maxKeyBytes {
            throw ShaleError.invalid("key is \(key.count) bytes; the limit is \(Options.maxKeyBytes)")
        }
    }

    func validate(value: UnsafeRawBufferPointer) throws {
        if value.count > options.maxValueBytes {
            throw ShaleError.invalid("value is \(value.count) bytes; the limit is \(options.maxValueBytes)")
        }
    }

    /// Queues the write; the writer at the head of the queue commits a group of queued writes
    /// with one WAL append (and one fsync), so concurrent writers share the cost.
    func commit(_ w: inout PendingWrite) throws {
        if options.readOnly { throw ShaleError.notSupported("\(location) was opened read-only") }
        try withUnsafeMutablePointer(to: &w) { p in
            mutex.lock()
            if let e = stickyError {
                mutex.unlock()
                throw e
            }
            if closing {
                mutex.unlock()
                throw ShaleError.closed()
            }
            queue.append(p)
            while !p.pointee.done && queue.first != p { writeCond.wait(mutex) }
            if p.pointee.done {
                mutex.unlock()
                if let e = p.pointee.error { throw e }
                return
            }
            leadGroup()
            mutex.unlock()
            if let e = p.pointee.error { throw e }
        }
    }

    /// Runs as the queue head with `mutex` held; returns with it held and the group done.
    private func leadGroup() {
        let leader = queue.first!
        var err: ShaleError? = nil
        do {
            try makeRoomForWrite()
        } catch let e as ShaleError {
            err = e
        } catch {
            err = ShaleError.internalError("\(error)")
        }
        if let err {
            leader.pointee.error = err
            leader.pointee.done = true
            queue.removeFirst(1)
            writeCond.broadcast()
            return
        }

        // Take a group: up to 1 MiB of records, or everything of a small first write's worth.
        var groupSize = 0
        var bytes = 0
        var needSync = options.walSync == .always
        let limit = leader.pointee.encodedSize <= 128 << 10 ? 1 << 20 : Int.max
        while groupSize < queue.count {
            let w = queue[groupSize]
            if groupSize > 0 && bytes + w.pointee.encodedSize > limit { break }
            bytes += w.pointee.encodedSize
            if w.pointee.forceSync { needSync = true }
            groupSize += 1
        }
        let firstSeq = lastSequence + 1
        var ops = 0
        for i in 0..<groupSize { ops += queue[i].pointee.operationCount }
        lastSequence += UInt64(ops)
        let groupLast = lastSequence
        let segment = wal!
        let memtable = mem
        // The leader's reusable list (one leader at a time): no allocation per group.
        var group = [UnsafeMutablePointer<PendingWrite>]()
        swap(&group, &groupScratch)
        defer { swap(&group, &groupScratch) }
        group.removeAll(keepingCapacity: true)
        for i in 0..<groupSize { group.append(queue[i]) }
        mutex.unlock()

        do {
            try appendGroup(group, firstSeq: firstSeq, to: segment, sync: needSync)
            insertGroup(group, firstSeq: firstSeq, into: memtable)
        } catch let e as ShaleError {
            err = e
        } catch {
            err = ShaleError.internalError("\(error)")
        }

        mutex.lock()
        if let e = err {
            // The WAL may now end in a partial record: no more writes until reopen.
            if stickyError == nil { stickyError = e }
        } else {
            visibleSequence.store(groupLast, ordering: .releasing)
            stats.commitGroups.wrappingIncrement(ordering: .relaxed)
        }
        for w in group {
            w.pointee.error = err
            w.pointee.done = true
        }
        queue.removeFirst(groupSize)
        writeCond.broadcast()
    }

    /// Encodes the group into one buffer and appends it; fsyncs when asked. Before anything
    /// is acknowledged, checks that no newer writer has fenced this one.
    private func appendGroup(_ group: [UnsafeMutablePointer<PendingWrite>], firstSeq: UInt64,
                             to segment: WALSegmentWriter, sync: Bool) throws {
        // The leader's reusable buffer: one leader at a time, so no allocation per group.
        var buf = [UInt8]()
        swap(&buf, &walScratch)
        defer { swap(&buf, &walScratch) }
        buf.removeAll(keepingCapacity: true)
        var seq = firstSeq
        for w in group {
            let n = w.pointee.operationCount
            if n == 0 { continue }
            let start = buf.count
            buf.append(contentsOf: repeatElement(0, count: WALFormat.recordHeaderSize))
            withUnsafeBytes(of: seq.littleEndian) { buf.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32(n).littleEndian) { buf.append(contentsOf: $0) }
            switch w.pointee.kind {
            case .put: BatchRep.appendOp(&buf, .value, w.pointee.key, w.pointee.value)
            case .delete: BatchRep.appendOp(&buf, .deletion, w.pointee.key, UnsafeRawBufferPointer(start: nil, count: 0))
            case .batch: buf.append(contentsOf: w.pointee.ops)
            case .syncOnly: break
            }
            WALFormat.sealRecord(&buf, headerAt: start)
            seq += UInt64(n)
        }
        if !buf.isEmpty {
            try buf.withUnsafeBytes { try segment.append($0) }
            stats.walBytes.wrappingIncrement(by: UInt64(buf.count), ordering: .relaxed)
            walDirty.store(true, ordering: .relaxed)
        }
        if sync {
            try segment.sync()
            stats.walSyncs.wrappingIncrement(ordering: .relaxed)
        }
        if let fence, fence.load() != epoch {
            throw ShaleError.fenced("another writer opened \(location) (epoch \(fence.load()) > \(epoch)); reopen to continue")
        }
    }

    private func insertGroup(_ group: [UnsafeMutablePointer<PendingWrite>], firstSeq: UInt64, into m: MemTable) {
        var seq = firstSeq
        for w in group {
            switch w.pointee.kind {
            case .put:
                m.add(seq: seq, kind: .value, key: w.pointee.key, value: w.pointee.value)
                seq += 1
            case .delete:
                m.add(seq: seq, kind: .deletion, key: w.pointee.key, value: UnsafeRawBufferPointer(start: nil, count: 0))
                seq += 1
            case .batch:
                // The ops were built by WriteBatch and validated there; they decode.
                try? BatchRep.forEach(w.pointee.ops, count: w.pointee.opCount, what: "batch") { kind, k, v in
                    m.add(seq: seq, kind: kind, key: k, value: v)
                    seq += 1
                }
            case .syncOnly:
                break
            }
        }
    }

    /// With `mutex` held: switches to a new memtable and WAL segment when the current one is
    /// full, stalling while too many memtables wait for flush.
    func makeRoomForWrite() throws {
        while true {
            if let e = stickyError { throw e }
            if closing { throw ShaleError.closed() }
            if mem.approximateBytes < options.memtableBytes { return }
            if imms.count >= options.maxImmutableMemtables {
                // A failed flush is not retried: waiting for it would hang the writer.
                if let e = bgError { throw e }
                stats.writeStalls.wrappingIncrement(ordering: .relaxed)
                bgCond.broadcast()
                bgCond.wait(mutex, timeoutMs: 100)
                continue
            }
            do {
                try switchMemtable()
            } catch let e as ShaleError {
                // The old segment may be sealed with no new one to write to: stop writing
                // until reopen, which recovers from what is durable.
                stickyError = e
                throw e
            }
            return
        }
    }

    /// With `mutex` held: seals the live segment, starts the next, and queues the memtable for
    /// flush.
    func switchMemtable() throws {
        guard let old = wal else { return }
        try old.seal()
        let next = try WALSegmentWriter(store: store, id: old.id + 1, syncHeader: options.walSync != .none)
        wal = next
        imms.append(mem)
        mem = MemTable(walSegment: next.id, capacity: options.memtableBytes)
        publishView()
        bgCond.broadcast()
    }
}
