extension VirtioNetDevice {
    /// Sends up to `batchLimit` transmit chains to the tap, one writev each; returns whether any chain was
    /// used and whether the batch was cut short. A chain whose frame breaks the rules is returned unsent.
    func serveTransmit(_ queue: SplitVirtqueue) throws -> (used: Bool, cut: Bool) {
        var served = 0
        var refused = 0
        var failed = 0
        defer {
            statistics.withLock {
                $0.framesSent += served - refused - failed
                $0.transmitRefused += refused
                $0.transmitErrors += failed
            }
        }
        while served < Self.batchLimit, !worker.pauseRequested {
            guard let chain = try queue.popAvailable() else { return (served > 0, false) }
            served += 1
            if acceptsTransmit(chain) {
                do {
                    try tap.write(chain.readable)
                } catch {
                    failed += 1
                }
            } else {
                refused += 1
            }
            queue.addUsed(chain, writtenLength: 0)
        }
        return (served > 0, true)
    }

    /// A header of 12 bytes and a frame of at least an Ethernet header and at most `maximumFrameBytes` in at most IOV_MAX pieces, asking only
    /// for offloads the guest negotiated (the tap's kernel checks the header again: the guest can change it
    /// while it is being written).
    private func acceptsTransmit(_ chain: DescriptorChain) -> Bool {
        let length = chain.readableLength
        guard length >= VirtioNetHeader.size + Self.ethernetHeaderBytes, length - VirtioNetHeader.size <= Self.maximumFrameBytes,
            chain.readable.count <= Self.maximumTransmitPieces,
            let header = chain.copyReadable(from: 0, count: 2)
        else { return false }
        return VirtioNetHeader(flags: header[0], gsoType: header[1]).allowed(
            by: features, checksumFeature: VirtioNetFeature.checksum, tso4: VirtioNetFeature.hostTSO4,
            tso6: VirtioNetFeature.hostTSO6, ecn: VirtioNetFeature.hostECN)
    }

    /// Answers control commands: the announcement acknowledgement clears the status's ANNOUNCE bit; any other
    /// command (none other is offered) is answered VIRTIO_NET_ERR. Returns whether any chain was used.
    func serveControl(_ queue: SplitVirtqueue) throws -> Bool {
        var served = 0
        while served < Int(queue.size), !worker.pauseRequested, let chain = try queue.popAvailable() {
            served += 1
            guard chain.writableLength >= 1 else {
                queue.addUsed(chain, writtenLength: 0)
                continue
            }
            let command = chain.copyReadable(from: 0, count: 2)
            var answer = VirtioNetControl.error
            if command == [VirtioNetControl.classAnnounce, VirtioNetControl.announceAcknowledge],
                features & VirtioNetFeature.guestAnnounce != 0
            {
                configuration.withLock { $0.status &= ~VirtioNetStatus.announce }
                answer = VirtioNetControl.ok
            }
            chain.copyToWritable([answer], at: chain.writableLength - 1)
            queue.addUsed(chain, writtenLength: UInt32(chain.writableLength))
        }
        return served > 0
    }
}
