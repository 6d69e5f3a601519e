// detail::WaitList: an intrusive FIFO of awaiters that live in coroutine frames.
#pragma once

namespace reins::detail {

/// Base of a node that can sit in one WaitList at a time.
struct WaitNode {
    WaitNode* prev = nullptr;
    WaitNode* next = nullptr;
    bool linked = false;
};

/// FIFO of nodes; a node unlinks itself (remove) when its frame goes away.
class WaitList {
public:
    bool empty() const noexcept { return head_ == nullptr; }
    WaitNode* front() const noexcept { return head_; }

    void push_back(WaitNode* n) noexcept {
        n->prev = tail_;
        n->next = nullptr;
        if (tail_) tail_->next = n;
        else head_ = n;
        tail_ = n;
        n->linked = true;
    }
    void remove(WaitNode* n) noexcept {
        if (!n->linked) return;
        if (n->prev) n->prev->next = n->next;
        else head_ = n->next;
        if (n->next) n->next->prev = n->prev;
        else tail_ = n->prev;
        n->prev = n->next = nullptr;
        n->linked = false;
    }
    WaitNode* pop_front() noexcept {
        WaitNode* n = head_;
        if (n) remove(n);
        return n;
    }

private:
    WaitNode* head_ = nullptr;
    WaitNode* tail_ = nullptr;
};

}  // namespace reins::detail
