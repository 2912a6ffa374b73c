import Atomics

/// An open database: the single writer of its location (until another writer fences it) and
/// any number of concurrent readers.
///
/// Locking: `mutex` guards the fields marked (mutex): the commit queue, the memtable switch,
/// the manifest and background state. The commit leader releases it while it writes the WAL
/// and fills the memtable. Readers never take `mutex`: they copy the published `ReadView`
/// reference from a striped cell (see `ViewCell`).
public final class DB: @unchecked Sendable {
    public let location: String
    public let options: Options
    let store: ObjectStore
    let manifests: ManifestStore
    let fence: FenceWord?
    /// This writer's epoch; 0 when read-only.
    let epoch: UInt64

    let mutex = Lock()
    /// Wakes queued writers.
    let writeCond = Condition()
    /// Wakes the background thread, and writers stalled on a full memtable queue.
    let bgCond = Condition()

    // (mutex) commit state
    var queue = WriterQueue()
    var lastSequence: UInt64
    var wal: WALSegmentWriter?
    var stickyError: ShaleError?
    /// The commit leader's WAL encoding buffer and group list (only the leader touches them).
    var walScratch = [UInt8]()
    var groupScratch: [UnsafeMutablePointer<PendingWrite>] = []
    /// Set when the WAL has appends the interval syncer has not yet fsynced.
    let walDirty = ManagedAtomic<Bool>(false)
    var closing = false
    // (mutex) tree state
    var mem: MemTable
    var imms: [MemTable] = []           // oldest first
    var manifest: Manifest
    var version: Version
    var tableCache: [UInt64: TableHandle] = [:]
    var snapshots: [UInt64: Int] = [:] // sequence -> live snapshot count
    var bgBusy = false
    /// Checkpoints created without waiting, to be written by the background thread.
    var pendingCheckpoints: [CheckpointEntry] = []
    var lastCheckpointTimeMs: Int64 = 0
    /// Serializes this process's manifest writers (background work, checkpoint creation).
    let manifestLock = Lock()
    var bgError: ShaleError?

    /// Highest sequence whose writes are complete: reads see up to here.
    let visibleSequence: ManagedAtomic<UInt64>
    let isClosed = ManagedAtomic<Bool>(false)

    private let view: ViewCell

    var backgroundThread: BackgroundThread?
    var syncThread: BackgroundThread?
    let stats = Stats()

    init(location: String, options: Options, store: ObjectStore, fence: FenceWord?, epoch: UInt64,
         manifest: Manifest, version: Version, tableCache: [UInt64: TableHandle],
         mem: MemTable, lastSequence: UInt64, wal: WALSegmentWriter?) {
        self.location = location
        self.options = options
        self.store = store
        self.manifests = ManifestStore(store: store)
        self.fence = fence
        self.epoch = epoch
        self.manifest = manifest
        self.version = version
        self.tableCache = tableCache
        self.mem = mem
        self.lastSequence = lastSequence
        self.wal = wal
        self.visibleSequence = ManagedAtomic(lastSequence)
        self.view = ViewCell(ReadView(mem: mem, imms: [], version: version))
    }

    /// The current view, for one read.
    @inline(__always)
    func currentView() -> ReadView { view.load() }

    /// Publishes a new view from the tree state; the caller holds `mutex`.
    func publishView() {
        view.store(ReadView(mem: mem, imms: imms.reversed(), version: version))
    }

    @inline(__always)
    func checkOpen() throws {
        if isClosed.load(ordering: .relaxed) { throw ShaleError.closed() }
    }

    /// True once `close` has begun: handles made from this database answer CLOSED.
    public var isClosedForCalls: Bool { isClosed.load(ordering: .relaxed) }

    public var lastVisibleSequence: UInt64 { visibleSequence.load(ordering: .acquiring) }
}

/// Counters for `stats`.
final class Stats: @unchecked Sendable {
    let puts = ManagedAtomic<UInt64>(0)
    let deletes = ManagedAtomic<UInt64>(0)
    let batches = ManagedAtomic<UInt64>(0)
    let gets = ManagedAtomic<UInt64>(0)
    let walSyncs = ManagedAtomic<UInt64>(0)
    let walBytes = ManagedAtomic<UInt64>(0)
    let commitGroups = ManagedAtomic<UInt64>(0)
    let flushes = ManagedAtomic<UInt64>(0)
    let compactions = ManagedAtomic<UInt64>(0)
    let bytesFlushed = ManagedAtomic<UInt64>(0)
    let bytesCompacted = ManagedAtomic<UInt64>(0)
    let writeStalls = ManagedAtomic<UInt64>(0)
    let walSegmentsDeleted = ManagedAtomic<UInt64>(0)
    let tablesDeleted = ManagedAtomic<UInt64>(0)
    let replayedRecords = ManagedAtomic<UInt64>(0)
    var openTimeUs: UInt64 = 0
}
