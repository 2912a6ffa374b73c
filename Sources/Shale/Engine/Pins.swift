/// What the current state and the live checkpoints need kept.
struct Pins {
    var tables: Set<UInt64> = []
    var manifests: Set<UInt64> = []
    var walLowWater: UInt64 = .max

    static func compute(current: [Manifest], manifests store: ManifestStore) throws -> Pins {
        var p = Pins()
        let now = wallClockMs()
        var seen: Set<[UInt8]> = []
        for m in current {
            p.walLowWater = min(p.walLowWater, m.walReplayFrom)
            for t in m.allTables { p.tables.insert(t.id) }
            for c in m.checkpoints where !c.isExpired(nowMs: now) && seen.insert(c.id).inserted {
                p.manifests.insert(c.manifestId)
                p.walLowWater = min(p.walLowWater, c.walFrom)
                // A pinned version that cannot be read would leave its tables unknown: then
                // nothing may be deleted this round.
                let pinned = try store.load(c.manifestId)
                for t in pinned.allTables { p.tables.insert(t.id) }
            }
        }
        return p
    }
}
