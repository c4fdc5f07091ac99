import CassnapAgent

/// Thin executable: parsing and work live in CassnapAgent.
@main
enum AgentMain {
    static func main() async {
        await AgentCommand.main()
    }
}
