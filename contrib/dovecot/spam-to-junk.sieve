# contrib/dovecot/spam-to-junk.sieve - file mail that hosterra-milter tagged
# as spam into the recipient's Junk folder.
#
# The milter adds "X-Spam-Flag: YES" to a message whose score lies between
# the recipient's tag and reject thresholds, and removes every X-Spam-*
# header the sender wrote, so the flag can be trusted.  Enabled as a
# sieve_before script (contrib/dovecot/90-hosterra-sieve.conf): it runs
# before the user's own script.  Pigeonhole runs the next script of the
# sequence only while the implicit keep holds, so once this script has filed
# a message into Junk the user's script does not see it ("stop" says so
# explicitly); untagged mail goes on to the user's script, then INBOX.
#
# ":create" (the "mailbox" extension, RFC 5490) makes the Junk folder on
# first use: new mailboxes need no set-up.  The delivery agent cannot write
# the compiled form next to a global script, so compile it after each edit:
#     sievec /etc/dovecot/sieve/spam-to-junk.sieve

require ["fileinto", "mailbox"];

if header :is "X-Spam-Flag" "YES" {
	fileinto :create "Junk";
	stop;
}
