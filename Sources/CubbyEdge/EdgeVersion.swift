/// The edge controller's protocol version, sent to the server on every link.
public enum EdgeVersion {
    public static let link = 1
}
