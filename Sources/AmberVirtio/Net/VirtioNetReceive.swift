extension VirtioNetDevice {
    private enum Delivery {
        case delivered, dropped, noBuffers
    }

    /// Moves up to `batchLimit` frames from the tap into receive chains; returns whether any chain was used
    /// and whether the batch was cut short. With no buffers for the waiting frame the worker stops polling
    /// the tap until the driver notifies the receive queue.
    func serveReceive(_ queue: SplitVirtqueue) throws -> (used: Bool, cut: Bool) {
        var delivered = 0
        var dropped = 0
        defer {
            statistics.withLock {
                $0.framesReceived += delivered
                $0.receiveDropped += dropped
            }
        }
        while delivered + dropped < Self.batchLimit, !worker.pauseRequested {
            if pendingFrameLength == nil {
                let read: Int?
                do {
                    read = try tap.read(into: receiveBuffer)
                } catch {
                    // The tap went away (deleted under the VM): stop polling it, or its error would wake the
                    // worker forever; the next receive notification tries again.
                    pollsTap.store(false, ordering: .releasing)
                    return (delivered > 0, false)
                }
                guard let length = read else { return (delivered > 0, false) }
                guard length > VirtioNetHeader.size else {
                    dropped += 1
                    continue
                }
                pendingFrameLength = length
            }
            switch try deliver(length: pendingFrameLength!, to: queue) {
            case .delivered:
                delivered += 1
                pendingFrameLength = nil
            case .dropped:
                dropped += 1
                pendingFrameLength = nil
            case .noBuffers:
                pollsTap.store(false, ordering: .releasing)
                // The driver may have added buffers since the check: it notifies, which polls the tap again.
                return (delivered > 0, false)
            }
        }
        return (delivered > 0, true)
    }

    /// Copies the frame in `receiveBuffer` (header first) across as many chains as it needs (one without
    /// VIRTIO_NET_F_MRG_RXBUF), setting num_buffers in the header. Chains taken for a frame that does not fit
    /// yet are given back.
    private func deliver(length: Int, to queue: SplitVirtqueue) throws -> Delivery {
        let header = VirtioNetHeader(flags: receiveBuffer[0], gsoType: receiveBuffer[1])
        guard
            header.allowed(
                by: features, checksumFeature: VirtioNetFeature.guestChecksum, tso4: VirtioNetFeature.guestTSO4,
                tso6: VirtioNetFeature.guestTSO6, ecn: VirtioNetFeature.guestECN)
        else { return .dropped }
        if features & VirtioNetFeature.guestChecksum == 0 {
            // Without GUEST_CSUM the header's flags must be 0 (section 5.1.6.4.1): DATA_VALID is the only one
            // that can be left here, and the frame's checksum is complete anyway.
            receiveBuffer[0] = 0
        }
        let mergeable = features & VirtioNetFeature.mergeableReceiveBuffers != 0
        var chains: [(chain: DescriptorChain, length: Int)] = []
        var copied = 0
        while copied < length {
            guard let chain = try queue.popAvailable() else {
                queue.undoPop(chains.count)
                return .noBuffers
            }
            guard chain.writableLength >= (chains.isEmpty ? VirtioNetHeader.size : 1) else {
                throw VirtioError(
                    "receive chain from head \(chain.head) has \(chain.writableLength) writable bytes, too few for a frame's header")
            }
            let count = min(chain.writableLength, length - copied)
            var offset = 0
            for piece in chain.writableRange(from: 0, count: count) {
                piece.copyMemory(from: UnsafeRawBufferPointer(rebasing: receiveBuffer[(copied + offset)..<(copied + offset + piece.count)]))
                offset += piece.count
            }
            chains.append((chain, count))
            copied += count
            if copied < length, !mergeable || chains.count == Int(queue.size) {
                // Never fits: one chain without mergeable buffers, or the whole ring with them.
                queue.undoPop(chains.count)
                return .dropped
            }
        }
        let buffers = UInt16(chains.count)
        chains[0].chain.copyToWritable(
            [UInt8(truncatingIfNeeded: buffers), UInt8(buffers >> 8)], at: VirtioNetHeader.numberOfBuffersOffset)
        for (chain, count) in chains {
            queue.addUsed(chain, writtenLength: UInt32(count))
        }
        return .delivered
    }
}
