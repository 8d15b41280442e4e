package commands

import "reflect"

// handlers maps every command type to its handler.
func (s *Service) handlers() map[reflect.Type]HandlerFunc {
	m := map[reflect.Type]HandlerFunc{}
	handle(m, s.registerAccount)
	handle(m, s.changeEmail)
	handle(m, s.rectifyProfile)
	handle(m, s.suspendAccount)
	handle(m, s.reinstateAccount)
	handle(m, s.closeAccount)
	handle(m, s.issueAPIKey)
	handle(m, s.rotateAPIKey)
	handle(m, s.revokeAPIKey)
	handle(m, s.recordUsage)
	handle(m, s.recordUsageBatch)
	handle(m, s.recordPayment)
	handle(m, s.refundPayment)
	handle(m, s.openDispute)
	handle(m, s.resolveDispute)
	handle(m, s.giveConsent)
	handle(m, s.withdrawConsent)
	handle(m, s.acceptPolicy)
	handle(m, s.publishPolicy)
	handle(m, s.receivePrivacyRequest)
	handle(m, s.acknowledgeRequest)
	handle(m, s.extendRequest)
	handle(m, s.rejectRequest)
	handle(m, s.placeLegalHold)
	handle(m, s.releaseLegalHold)
	handle(m, s.executeErasure)
	handle(m, s.scheduleErasure)
	handle(m, s.recordExport)
	return m
}
