/// A read-only view of a checkpoint (or of the latest durable state) that can run in any
/// process beside a live writer. It loads the state once: its tables stay mapped and its WAL
/// records are in memory, so the writer's later flushes and collections do not disturb it.
public final class Reader: @unchecked Sendable {
    public let location: String
    /// The checkpoint read, or nil for the latest durable state.
    public let checkpoint: CheckpointEntry?
    public let sequence: UInt64
    let view: ReadView
    private let closedFlag = Lock()
    private var closed = false

    public static func open(_ location: String, checkpointId: String? = nil) throws -> Reader {
        let store = try StoreLocation.open(location, createIfMissing: false)
        let manifests = ManifestStore(store: store)
        // A concurrent writer may remove a file the newest manifest named just after we read
        // it: start again from the newer manifest.
        var lastError: ShaleError? = nil
        for _ in 0..<20 {
            do {
                let latest = try CheckpointAdmin.latest(store)
                if let checkpointId {
                    let c = try CheckpointAdmin.find(latest, id: checkpointId, location: location)
                    let pinned = try manifests.load(c.manifestId)
                    let state = try LoadedState.load(store: store, manifest: pinned, upTo: c.sequence, lastSegment: c.walTo,
                                                     tolerateTornTail: true, memtableBytes: 1 << 20, readOnly: true)
                    return Reader(location: location, checkpoint: c, state: state)
                }
                let state = try LoadedState.load(store: store, manifest: latest, tolerateTornTail: true,
                                                 memtableBytes: 1 << 20, readOnly: true)
                return Reader(location: location, checkpoint: nil, state: state)
            } catch let e as ShaleError where e.status == .notFound && !e.message.contains("checkpoint") && !e.message.contains("no database") {
                lastError = e
                continue
            }
        }
        throw lastError ?? ShaleError.busy("\(location): the state kept changing while opening a reader")
    }

    init(location: String, checkpoint: CheckpointEntry?, state: LoadedState) {
        self.location = location
        self.checkpoint = checkpoint
        self.sequence = state.lastSequence
        self.view = ReadView(mem: state.mem, imms: [], runs: state.run.map { [$0] } ?? [], version: state.version)
    }

    func checkOpen() throws {
        if closedFlag.withLock({ closed }) { throw ShaleError.closed("the reader is closed") }
    }

    public var isClosed: Bool { closedFlag.withLock { closed } }

    public func get<T>(_ key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T? {
        try checkOpen()
        if key.count == 0 { throw ShaleError.invalid("key is empty") }
        if key.count > Options.maxKeyBytes { throw ShaleError.invalid("key is \(key.count) bytes; the limit is \(Options.maxKeyBytes)") }
        return try DB.lookup(key, seq: sequence, in: view, body)
    }

    public func get(_ key: [UInt8]) throws -> [UInt8]? {
        try key.withUnsafeBytes { k in try get(k) { Array($0) } }
    }

    public func scan(start: [UInt8]? = nil, end: [UInt8]? = nil) throws -> DBIterator {
        try checkOpen()
        return try DBIterator(view: view, sequence: sequence, start: start, end: end)
    }

    public func close() { closedFlag.withLock { closed = true } }
}
